"""The report of a run: a folder of Locust-compatible CSVs, timings.csv, summary.json, profile.toml and report.html.

    writer = ReportWriter(Path("reports"), profile, target_url=url, started_at=time.time(),
                          tool_version=__version__, settings={"workers": 2})
    writer.check_writable()                  # before the run: ReportError with a one-line message
    bus.add_callback(writer.on_snapshot)     # every tick: history rows streamed to disk, chart points kept
    path = writer.write(final, verdicts)     # at the end (also after an interrupt or with no sample)
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from ..metrics.snapshot import Snapshot
from ..profile.document import current_umask, write_atomic
from ..profile.models import Profile
from ..profile.thresholds import Verdict
from .charts import distribution_chart, timeline_charts
from .html import render_html
from .redact import profile_toml
from .summary import build_summary
from .tables import (FAILURES_HEADER, HISTORY_HEADER, STATS_HEADER, TIMINGS_HEADER, failure_rows, history_rows,
                     stats_rows, timing_rows)
from .timeline import Health, Timeline, point_of

__all__ = ["ReportWriter", "ReportError", "FILES"]

FILES = (
    "results_stats.csv",
    "results_failures.csv",
    "results_stats_history.csv",
    "timings.csv",
    "summary.json",
    "profile.toml",
    "report.html",
)
HISTORY = "results_stats_history.csv"
_PART = f".{HISTORY}.part"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
NAME_MAX = 80
"""Characters of the profile name kept in a report folder's name (a file name may have 255 bytes at most)."""


class ReportError(Exception):
    """The report cannot be written. ``message`` is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


class ReportWriter:
    """Collects what the report needs while the run goes, and writes it at the end."""

    def __init__(
        self,
        base_dir: Path,
        profile: Profile,
        *,
        target_url: str,
        started_at: float,
        tool_version: str,
        settings: dict[str, Any],
    ) -> None:
        self.base_dir = Path(base_dir)
        self.profile = profile
        self.target_url = target_url
        self.started_at = started_at
        self.tool_version = tool_version
        self.settings = dict(settings)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at))
        name = _UNSAFE.sub("_", profile.name).strip("._")[:NAME_MAX].rstrip("._")
        self._stem = f"{name or 'profile'}_{stamp}"
        self.report_dir = self._free_dir()
        self.timeline = Timeline()
        self.health = Health()
        self._created = False
        self._history: TextIO | None = None
        self._history_csv: Any = None
        self._history_error: str | None = None
        self._last_seq = -1
        self.extra: dict[str, Any] = {}
        """More top-level keys for summary.json (e.g. ``baseline``)."""
        self.sections: list[Callable[[dict[str, Any], Path], str]] = []
        """More report.html sections: ``(summary, report folder) -> HTML`` (escaped by the caller), called
        once the folder's history CSV is complete."""

    # ------------------------------------------------------------ directory

    def _candidate(self, n: int) -> Path:
        return self.base_dir / (self._stem if n == 1 else f"{self._stem}-{n}")

    def _free_dir(self) -> Path:
        n = 1
        try:
            while self._candidate(n).exists():
                n += 1
        except OSError as exc:  # an unreadable base folder, say: said when the folder is made
            raise ReportError(f"cannot use the report folder {self._candidate(n)}: {exc.strerror or exc}") from None
        return self._candidate(n)

    def _ensure_dir(self) -> Path:
        if self._created:
            return self.report_dir
        try:
            self.base_dir.mkdir(parents=True, exist_ok=True)
            while True:
                try:
                    self.report_dir.mkdir()
                    break
                except FileExistsError:
                    self.report_dir = self._free_dir()
        except OSError as exc:
            raise ReportError(f"cannot create the report folder {self.report_dir}: {exc.strerror or exc}") from None
        self._created = True
        return self.report_dir

    def check_writable(self) -> Path:
        """Create the report folder and prove a file can be written there; raise :class:`ReportError`."""
        path = self._ensure_dir()
        try:
            fd, probe = tempfile.mkstemp(prefix=".probe.", dir=path)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ReportError(f"cannot write reports to {path}: {exc.strerror or exc}") from None
        return path

    def discard(self) -> None:
        """Remove the report folder made by :meth:`check_writable` while it is still empty (the run never
        started). A folder that holds anything is left alone."""
        if not self._created or self._history is not None:
            return
        try:
            self.report_dir.rmdir()
        except OSError:
            return  # not empty, or already gone: nothing of ours to remove
        self._created = False

    # ------------------------------------------------------------ during the run

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Bus callback, once per tick: stream the history rows, keep a chart point. Never raises."""
        if snapshot.seq <= self._last_seq:
            return
        self._last_seq = snapshot.seq
        self.timeline.add(point_of(snapshot))
        self.health.add(snapshot)
        if self._history_error is not None:
            return
        try:
            if self._history is None:
                self._ensure_dir()
                self._history = open(self.report_dir / _PART, "w", encoding="utf-8", newline="")
                self._history_csv = csv.writer(self._history, lineterminator="\n")
                self._history_csv.writerow(HISTORY_HEADER)
            self._history_csv.writerows(history_rows(snapshot))
            self._history.flush()
        except (OSError, ReportError) as exc:
            self._history_error = f"history stopped at second {snapshot.elapsed:.0f}: {exc}"

    def _finish_history(self) -> None:
        part, final = self.report_dir / _PART, self.report_dir / HISTORY
        if self._history is not None:
            self._history.flush()
            os.fsync(self._history.fileno())
            self._history.close()
            self._history = None
            os.replace(part, final)
        elif not final.exists():
            write_atomic(final, _csv_text(HISTORY_HEADER, []))

    # ------------------------------------------------------------ at the end

    def write(self, final: Snapshot, verdicts: list[Verdict], notes: list[str] = [],
              pool_sections: dict[str, Any] | None = None) -> Path:
        """Write every file of the report (each atomically) and return the report folder.
        ``pool_sections``: summary.json sections from the worker pool (a cluster's ``hosts``)."""
        self._ensure_dir()
        self.on_snapshot(final)
        notes = list(notes)
        if self._history_error:
            notes.append(self._history_error)
        try:
            toml_text = profile_toml(self.profile)
        except (TypeError, ValueError) as exc:
            toml_text = f"# the profile could not be written as TOML: {exc}\n"
        summary = build_summary(
            profile=self.profile, target_url=self.target_url, started_at=self.started_at,
            tool_version=self.tool_version, settings=self.settings, final=final, verdicts=verdicts,
            notes=notes, health=self.health, pool_sections=pool_sections,
        )
        summary.update(self.extra)
        try:
            self._finish_history()
        except OSError as exc:
            raise ReportError(f"cannot write the report to {self.report_dir}: {exc.strerror or exc}") from None
        sections = [section(summary, self.report_dir) for section in self.sections]
        has_ws = any(e["kind"].startswith("ws") for e in summary["endpoints"]) or final.ws.connects > 0
        charts = timeline_charts(self.timeline.series(), has_ws)
        html = render_html(summary, charts, distribution_chart(final.distribution, wide=len(charts) % 2 == 0), sections)
        files = {
            "results_stats.csv": _csv_text(STATS_HEADER, stats_rows(final)),
            "results_failures.csv": _csv_text(FAILURES_HEADER, failure_rows(final)),
            "timings.csv": _csv_text(TIMINGS_HEADER, timing_rows(final)),
            "summary.json": json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n",
            "profile.toml": toml_text,
            "report.html": html,
        }
        try:
            mode = 0o666 & ~current_umask()
            for name, text in files.items():
                write_atomic(self.report_dir / name, text)
                os.chmod(self.report_dir / name, mode)  # write_atomic's temp file is private (0600)
        except OSError as exc:
            raise ReportError(f"cannot write the report to {self.report_dir}: {exc.strerror or exc}") from None
        return self.report_dir
