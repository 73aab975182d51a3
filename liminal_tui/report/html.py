"""report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) from Jinja2.

Autoescaping is on: every string that comes from the profile, the target or the run (endpoint names,
error messages, notes) is escaped. Only the chart SVG, built by pygal's XML serializer, is marked safe.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..metrics.snapshot import KIND_HTTP, KIND_WS_MESSAGE, KIND_WS_PING, TIMED_AT_READ_CAUSES
from .charts import Chart
from .tables import PERCENTILE_KEYS

__all__ = ["render_html"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.2f}" if value < 100 else f"{value:,.1f}" if value < 10_000 else f"{value:,.0f}"


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _pct(fraction: float | None) -> str:
    return "–" if fraction is None else f"{fraction * 100:.2f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds % 1 else f"{seconds:.0f} s"
    h, rest = divmod(int(round(seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def _observed(verdict: dict[str, Any]) -> str:
    shown = _value(verdict["observed"], verdict["unit"])
    if "baseline" in verdict:  # a rule relative to a baseline run
        base = _value(verdict["baseline"], verdict["unit"])
        return f"{shown} (baseline {base}, limit {_value(verdict['limit'], verdict['unit'])})"
    return shown


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "ms":
        return f"{_ms(value)} ms"
    if unit == "fraction":
        return _pct(value)
    if unit == "per_second":
        return f"{value:,.1f}/s"
    return f"{value:g}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ms=_ms, num=_num, pct=_pct, duration=_duration, observed=_observed)
    return env


def _load_text(load: dict[str, Any]) -> str:
    if load["model"] == "closed":
        think = load["think_time"]
        think_text = (
            f"{think['min']:g}–{think['max']:g} s" if isinstance(think, dict) else f"{think:g} s"
        )
        text = f"closed · {load['users']} users · spawn {load['spawn_rate']:g}/s · think {think_text}"
    else:
        text = f"open · {load['rate']:g} iterations/s · max in flight {load['max_in_flight']}"
    if load["stages"]:
        text += " · stages " + ", ".join(f"{_duration(s['duration'])} → {s['target']:g}" for s in load["stages"])
    return text


def render_html(summary: dict[str, Any], charts: Sequence[Chart], distribution: Chart | None,
                sections: Sequence[str] = ()) -> str:
    """``sections``: more sections, already-escaped HTML (e.g. the comparison with a baseline run)."""
    endpoints = summary["endpoints"]
    aggregated = summary["aggregates"]["all"]
    context = {
        "s": summary,
        "load_text": _load_text(summary["load"]),
        "charts": [(c.title, Markup(c.svg)) for c in charts],
        "distribution": Markup(distribution.svg) if distribution else None,
        "rows": [*endpoints, aggregated],
        "pct_keys": PERCENTILE_KEYS,
        "open_model": any("service_ms" in e for e in endpoints),
        "timed": [e for e in [*endpoints, summary["aggregates"].get("http", aggregated)]
                  if "ttfb" in e.get("timings_ms", {})],
        "heartbeats": [e for e in endpoints if e["kind"] == KIND_WS_PING],
        "broadcasts": [e for e in endpoints if e["kind"] == KIND_WS_MESSAGE],
        "sections": [Markup(section) for section in sections],
        "timed_at_read_causes": TIMED_AT_READ_CAUSES,
        "has_ws": any(e["kind"].startswith("ws") for e in endpoints) or summary["websocket"]["connects"] > 0,
        # "Aggregated" here is the CSV's: every kind of sample together; the page says so where it shows it.
        "agg_label": "all HTTP" if set(summary["aggregates"]) - {"all"} == {KIND_HTTP} else "all kinds",
        # The saturation warning is shown once, at the top; the notes do not repeat it.
        "notes": [n for n in summary["notes"] if n != summary["generator"]["warning"]],
    }
    return _environment().get_template("report.html.j2").render(context)
