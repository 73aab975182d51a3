"""The comparison as HTML: a page of its own (``--compare ... --out DIR``) and a section of report.html
(a run made with ``--baseline``). Offline like the report: inline CSS and SVG, no script, nothing
fetched; the report's own stylesheet; Jinja2 autoescaping for every string from the runs.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pygal
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..profile.document import write_atomic
from ..report.charts import _CONFIG, _STYLE, _clock, _number, _svg
from ..report.html import TEMPLATES as REPORT_TEMPLATES
from .compare import LABELS, Comparison, compare, endpoint_title, show, show_change, show_noise
from .record import ALL, RunRecord, Second

__all__ = ["comparison_section", "render_comparison_page", "write_comparison_page", "PAGE"]

PAGE = "comparison.html"
TEMPLATES = Path(__file__).resolve().parent / "templates"
_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.S)


@lru_cache(maxsize=1)
def report_css() -> str:
    """The report's stylesheet, read from its template, so both pages always look alike."""
    match = _STYLE_BLOCK.search((REPORT_TEMPLATES / "report.html.j2").read_text(encoding="utf-8"))
    return match.group(1) if match else ""


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(show=show, change=show_change, noise=show_noise, endpoint=endpoint_title,
                       label=lambda m: LABELS.get(m, m))
    return env


def _overlay(title: str, unit: str, old: RunRecord, new: RunRecord, get: Callable[[Second], float | None]) -> Markup:
    chart = pygal.XY(**_CONFIG, x_value_formatter=_clock, value_formatter=lambda v: f"{_number(v)}{unit}",
                     range=None, min_scale=3, max_scale=6)
    chart.title = title
    chart.config.legend_at_bottom_columns = 2
    for name, run in (("old", old), ("new", new)):
        points = [(s.t, get(s)) for s in run.seconds.get(ALL, [])]
        chart.add(f"{name}: {run.label}", points, allow_interruptions=True)
    return Markup(_svg(chart))


def _charts(c: Comparison) -> list[Markup]:
    if not c.old.seconds.get(ALL) and not c.new.seconds.get(ALL):
        return []
    return [
        _overlay("Requests per second", "/s", c.old, c.new, lambda s: s.rps),
        _overlay("p99 latency per second (ms)", " ms", c.old, c.new, lambda s: s.p99),
        _overlay("p50 latency per second (ms)", " ms", c.old, c.new, lambda s: s.p50),
        _overlay("Errors per second", "/s", c.old, c.new, lambda s: s.fps),
    ]


def _context(c: Comparison, heading: str) -> dict[str, Any]:
    return {"c": c, "heading": heading, "charts": _charts(c), "method": c.method}


def render_section(c: Comparison, heading: str) -> str:
    return _environment().get_template("section.html.j2").render(_context(c, heading))


def render_comparison_page(c: Comparison) -> str:
    context = _context(c, "Comparison")
    context["css"] = Markup(report_css())
    return _environment().get_template("comparison.html.j2").render(context)


def write_comparison_page(c: Comparison, out: Path) -> Path:
    """``out/comparison.html``; OSError when it cannot be written."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / PAGE
    write_atomic(path, render_comparison_page(c))
    return path


def comparison_section(baseline: RunRecord, summary: dict[str, Any], folder: Path) -> str:
    """report.html's section for a run made with ``--baseline``: this run against the baseline."""
    from .index import scan

    comparison = compare(baseline, RunRecord(folder, summary), history=scan(folder.parent).runs)
    return render_section(comparison, "Against the baseline")
