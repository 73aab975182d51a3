"""Charts for report.html: pygal, rendered to inline SVG with no script and no external reference."""

from __future__ import annotations

import re
from typing import Callable, Sequence

import pygal
from pygal.style import Style

from .timeline import Point

__all__ = ["Chart", "timeline_charts", "distribution_chart"]


def _style(colors: tuple[str, ...]) -> Style:
    return Style(
        background="transparent",
        plot_background="#ffffff",
        foreground="#1f2937",
        foreground_strong="#111827",
        foreground_subtle="#e5e7eb",
        opacity=".9",
        opacity_hover="1",
        colors=colors,
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        title_font_size=14,
        tooltip_font_size=11,
    )


_STYLE = _style(("#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2"))
_RED = _style(("#dc2626",))
_CONFIG = dict(
    js=[],  # no external script (pygal's default loads one from a CDN)
    style=_STYLE,
    width=560,
    height=250,
    show_dots=False,
    stroke_style={"width": 1.6},
    legend_at_bottom=True,
    legend_box_size=10,
    margin=8,
    spacing=8,
    disable_xml_declaration=True,
    explicit_size=False,
    include_x_axis=True,
    truncate_legend=-1,
    truncate_label=-1,
    x_label_rotation=0,
)
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


class Chart:
    """A titled chart as inline SVG markup (pygal builds it with an XML serializer: text is escaped)."""

    def __init__(self, key: str, title: str, svg: str) -> None:
        self.key = key
        self.title = title
        self.svg = svg


def _svg(chart: pygal.graph.graph.Graph) -> str:
    svg = chart.render(is_unicode=True)
    return _COMMENT.sub("", _SCRIPT.sub("", svg))


def _clock(seconds: float) -> str:
    seconds = int(round(seconds or 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _number(value: float) -> str:
    if not value:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.2f}"


def _xy(title: str, points: Sequence[Point], series: list[tuple[str, Callable[[Point], float | None]]],
        unit: str, style: Style) -> pygal.XY:
    chart = pygal.XY(
        **{**_CONFIG, "style": style},
        x_value_formatter=_clock,
        value_formatter=lambda v: f"{_number(v)}{unit}",
        range=None,
        min_scale=3,
        max_scale=6,
    )
    chart.title = title
    chart.config.legend_at_bottom_columns = len(series)
    for name, get in series:
        chart.add(name, [(p.t, get(p)) for p in points], allow_interruptions=True)
    return chart


def timeline_charts(points: Sequence[Point], websocket: bool) -> list[Chart]:
    """Charts over time; an empty list when there is no tick to draw."""
    if not points:
        return []
    ttfb = [("first byte p95", lambda p: p.ttfb_p95)] if any(p.ttfb_p95 is not None for p in points) else []
    specs: list[tuple[str, str, list, str]] = [
        ("rps", "Requests per second", [("requests/s", lambda p: p.rps)], "/s"),
        ("users", "Active users", [("active", lambda p: p.users), ("asked for", lambda p: p.target)], ""),
        ("latency", "HTTP latency (ms, per second)",
         [("p50", lambda p: p.p50), ("p95", lambda p: p.p95), ("p99", lambda p: p.p99), *ttfb], " ms"),
        ("errors", "Errors per second", [("failures/s", lambda p: p.fps)], "/s"),
    ]
    if websocket:
        specs.append(("ws", "WebSocket connections open", [("open", lambda p: p.ws_open)], ""))
    out = []
    for key, title, series, unit in specs:
        chart = _xy(title, points, series, unit, _RED if key == "errors" else _STYLE)
        out.append(Chart(key, title, _svg(chart)))
    return out


def distribution_chart(distribution: Sequence[tuple[float, int]], wide: bool = False) -> Chart | None:
    """Histogram of HTTP success latencies; buckets are (upper bound ms, count), log-spaced."""
    counts = [c for _, c in distribution]
    used = [i for i, c in enumerate(counts) if c]
    if not used:
        return None
    distribution = distribution[used[0] : used[-1] + 1]  # no empty buckets at either end
    chart = pygal.Bar(
        **{**_CONFIG, "legend_at_bottom": False, "spacing": 1, **({"width": 1120, "height": 260} if wide else {})},
        show_legend=False,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, len(distribution) // (12 if wide else 6)),
        value_formatter=lambda v: f"{v:,.0f}",
    )
    chart.title = "Latency distribution, HTTP successes (ms)"
    chart.x_labels = [_number(upper) for upper, _ in distribution]
    chart.add("requests", [count for _, count in distribution])
    return Chart("distribution", chart.title, _svg(chart))
