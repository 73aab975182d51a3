"""One past run, read back from its report folder: ``summary.json`` and ``results_stats_history.csv``.

A report folder is the unit of history. :func:`load_run` accepts the folder or its ``summary.json`` and
raises :class:`RunError` (one line naming the file) for anything that is not a whole liminal-tui report.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import math
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from hdrh.codec import HdrCookieException, HdrHistogramSettingsException, HdrLengthException
from hdrh.histogram import HdrHistogram

from ..metrics.kinds import PERCENTILE_NAMES, TIMINGS

__all__ = ["RunError", "RunRecord", "Second", "load_run", "clean", "steady", "stat_of", "Key", "ALL"]

SUMMARY = "summary.json"
HISTORY = "results_stats_history.csv"
Key = tuple[str, str]
"""An endpoint as ``(type, name)``: the CSV's Type and Name columns (``("", "Aggregated")``: everything)."""
ALL: Key = ("", "Aggregated")
_BAD_HISTOGRAM = (binascii.Error, ValueError, TypeError, OSError, UnicodeError, zlib.error, struct.error,
                  HdrCookieException, HdrHistogramSettingsException, HdrLengthException)
"""What hdrh raises for a histogram that is not one (its own exceptions derive from Exception only)."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: Any) -> str:
    """``text`` without control characters (a name from a report must not drive the terminal)."""
    return _CONTROL.sub("?", str(text))


class RunError(Exception):
    """A folder or file that is not a readable liminal-tui report; ``str()`` is one line."""


@dataclass(frozen=True, slots=True)
class Second:
    """One tick of one endpoint from the history CSV: that second's rates and percentiles (ms)."""

    t: float
    """Seconds since the run's first tick."""
    rps: float
    fps: float
    p50: float | None
    p95: float | None
    p99: float | None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class RunRecord:
    """A finished run: its summary (as written) and, read on demand, its per-second history."""

    folder: Path
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    """What could not be read besides the summary (e.g. a missing history file)."""
    _histograms: dict[Key, HdrHistogram | None] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ identity

    @property
    def profile(self) -> str:
        return str(self.summary["profile"])

    @property
    def target(self) -> str:
        return str(self.summary.get("target") or "")

    @property
    def target_setting(self) -> str:
        """The target as the profile wrote it (``builtin``, or the URL); older reports: the URL used."""
        return str(self.summary.get("target_setting") or self.target)

    @property
    def started_at(self) -> str:
        return str(self.summary.get("started_at") or "")

    @cached_property
    def started(self) -> datetime:
        try:
            return datetime.fromisoformat(self.started_at)
        except ValueError:
            return datetime.fromtimestamp(os.path.getmtime(self.folder)).astimezone()

    @property
    def label(self) -> str:
        """The folder name, which says profile and start time."""
        return self.folder.name

    @property
    def duration_s(self) -> float:
        return float((self.summary.get("duration") or {}).get("actual_s") or 0.0)

    @property
    def passed(self) -> bool | None:
        """Thresholds passed (None: the profile had none)."""
        thresholds = self.summary.get("thresholds") or {}
        return bool(self.summary.get("passed")) if thresholds.get("verdicts") else None

    # ------------------------------------------------------------ figures

    @cached_property
    def rows(self) -> dict[Key, dict[str, Any]]:
        """Each endpoint, then the whole run (:data:`ALL`), as their ``summary.json`` records."""
        out = {(str(e.get("type", "")), str(e.get("name", ""))): e for e in self.summary["endpoints"]}
        out[ALL] = self.summary["aggregates"]["all"]
        return out

    @property
    def total(self) -> dict[str, Any]:
        return self.rows[ALL]

    @property
    def p99(self) -> float | None:
        """The whole run's p99 (ms), None without a success."""
        return ((self.total.get("latency_ms") or {}).get("percentiles") or {}).get("p99")

    def histogram(self, key: Key) -> HdrHistogram | None:
        """The whole-run success histogram (us) of an endpoint, when the report carries one."""
        if key not in self._histograms:
            self._histograms[key] = self._decode(key)
        return self._histograms[key]

    def _decode(self, key: Key) -> HdrHistogram | None:
        encoded = self.rows.get(key, {}).get("latency_hdr")
        if not isinstance(encoded, str):
            return None
        try:
            base64.b64decode(encoded, validate=True)
            return HdrHistogram.decode(encoded.encode("ascii"))
        except _BAD_HISTOGRAM as exc:
            self.notes.append(f"{self.label}: the latency histogram of {clean(key[1])} cannot be read "
                              f"({type(exc).__name__}): percentiles judged without it")
            return None

    @cached_property
    def seconds(self) -> dict[Key, list[Second]]:
        """Per-second rows of ``results_stats_history.csv`` by endpoint; empty when the file is missing."""
        path = self.folder / HISTORY
        out: dict[Key, list[Second]] = {}
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                first: float | None = None
                for row in reader:
                    ts = _float(row.get("Timestamp") or "")
                    rps = _float(row.get("Requests/s") or "")
                    if ts is None or rps is None:
                        continue
                    first = ts if first is None else first
                    out.setdefault((row.get("Type") or "", row.get("Name") or ""), []).append(Second(
                        ts - first, rps, _float(row.get("Failures/s") or "") or 0.0,
                        _float(row.get("50%") or ""), _float(row.get("95%") or ""), _float(row.get("99%") or ""),
                    ))
        except FileNotFoundError:
            self.notes.append(f"{self.label}: no {HISTORY}: rates are judged without their per-second spread")
        except (OSError, csv.Error, UnicodeError) as exc:
            self.notes.append(f"{self.label}: {HISTORY} cannot be read ({exc})")
        return out


def steady(seconds: list[Second]) -> list[Second]:
    """Per-second rows without the last: the final tick covers the stop and the wind-down of in-flight
    requests (a partial second at a falling rate), not the load the run held."""
    return seconds[:-1]


def _check(summary: Any, where: str) -> dict[str, Any]:
    if not isinstance(summary, dict):
        raise RunError(f"{where}: not a liminal-tui summary (expected a JSON object)")
    tool = summary.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "liminal-tui" or "schema_version" not in summary:
        raise RunError(f"{where}: not a liminal-tui summary (no tool name or schema_version)")
    if not isinstance(summary.get("profile"), str):
        raise RunError(f"{where}: no profile name")
    endpoints, aggregates = summary.get("endpoints"), summary.get("aggregates")
    if not isinstance(endpoints, list) or not all(isinstance(e, dict) for e in endpoints):
        raise RunError(f"{where}: 'endpoints' is missing or not a list")
    if not isinstance(aggregates, dict) or not isinstance(aggregates.get("all"), dict):
        raise RunError(f"{where}: 'aggregates.all' is missing")
    if not isinstance(summary.get("duration", {}), dict):
        raise RunError(f"{where}: 'duration' is not an object")
    for i, row in enumerate([*endpoints, *aggregates.values()]):
        _check_row(row, f"{where}: " + (f"endpoints[{i}]" if i < len(endpoints) else "aggregates"))
    return summary


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_row(row: Any, where: str) -> None:
    """The figures a comparison reads are numbers (or absent): a hand-edited file fails here, not later."""
    if not isinstance(row, dict):
        raise RunError(f"{where}: not an object")
    for key in ("requests", "failures", "rps", "error_rate"):
        if key in row and not _is_number(row[key]):
            raise RunError(f"{where}.{key}: not a number")
    latency = row.get("latency_ms")
    if latency is None:
        return
    percentiles = latency.get("percentiles") if isinstance(latency, dict) else None
    if not isinstance(percentiles, dict) or not all(_is_number(v) for v in percentiles.values()) or (
            "max" in latency and not _is_number(latency["max"])):
        raise RunError(f"{where}.latency_ms: not a latency record")


def load_run(path: Path | str) -> RunRecord:
    """The run of a report folder, or of a ``summary.json`` file (its history CSV read from beside it)."""
    path = Path(path)
    file = path / SUMMARY if path.is_dir() else path
    folder = file.parent
    if not path.exists():
        raise RunError(f"{path}: no such file or folder")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{folder}: no {SUMMARY} (the run did not finish, or this is not a report folder)") from None
    except (OSError, UnicodeError) as exc:
        raise RunError(f"{file}: cannot be read ({exc})") from None
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunError(f"{file}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return RunRecord(folder, _check(summary, str(file)))


def stat_of(row: dict[str, Any] | None, stat: str) -> float | None:
    """The value of a threshold statistic (:attr:`Rule.metric`: ``p99``, ``delivery.p99``) in a
    ``summary.json`` stats record (units as the rules use)."""
    if row is None:
        return None
    if stat == "count":
        return float(row.get("requests", 0))
    if stat in ("failures", "error_rate", "rps"):
        value = row.get(stat)
        return float(value) if isinstance(value, (int, float)) else None
    timing, dot, of = stat.partition(".")
    if dot and timing in TIMINGS:  # delivery.p99: the timing's record in timings_ms
        latency, stat = (row.get("timings_ms") or {}).get(timing), of
    else:
        latency = row.get("latency_ms")
    if not isinstance(latency, dict):
        return None
    if stat in ("max", "min"):
        return latency.get(stat)
    if stat == "avg":
        return latency.get("mean")
    return (latency.get("percentiles") or {}).get(stat) if stat in PERCENTILE_NAMES else None
