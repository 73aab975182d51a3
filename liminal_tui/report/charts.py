"""Charts for report.html: pygal, rendered to inline SVG with no script and no external reference."""

from __future__ import annotations

import math
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


_DESC_XY = re.compile(r'<desc class="(?:x|y)[^"]*">[^<]*</desc>')
_DESC_VALUE = re.compile(r'<desc class="value">([^<]*)</desc>')
_DESC_LABEL = re.compile(r'<desc class="x_label">([^<]*)</desc>')
_SERIES = re.compile(r'(<g class="series serie-(\d+) )')
HOVER_POINTS = 1200
"""Charts of up to this many points carry a dot per point with its value as an SVG ``<title>`` (shown on
hover without any script); longer runs' charts stay lines only, to keep the page small."""


def _titles(svg: str, series: list[str], unit: str = "") -> str:
    """pygal's per-point ``<desc>`` (read by its JavaScript, which the report leaves out) as ``<title>``s,
    which browsers show on hover: ``p99 at 0:12: 8.4 ms``; a bar: ``<= 2.0 ms: 50``."""
    parts = _SERIES.split(svg)
    out = [parts[0]]
    for i in range(1, len(parts), 3):  # (opening, series index, body)
        name = series[int(parts[i + 1])] if int(parts[i + 1]) < len(series) else ""
        body = parts[i + 2]

        def title(m: re.Match[str], name: str = name) -> str:
            at, sep, value = m.group(1).partition(": ")
            return f"<title>{name} at {at}: {value}</title>" if sep and name else f"<title>{m.group(1)}</title>"

        if unit:  # bars: the bucket's label comes after its value
            body = re.sub(r'<desc class="value">([^<]*)</desc>((?:<desc[^>]*>[^<]*</desc>)*?)<desc class="x_label">([^<]*)</desc>',
                          lambda m: f"<title>&lt;= {m.group(3)}{unit}: {m.group(1)} requests</title>", body)
        body = _DESC_VALUE.sub(title, body)
        out += [parts[i], body]
    return _DESC_XY.sub("", "".join(out))


def _svg(chart: pygal.graph.graph.Graph, series: list[str] | None = None, unit: str = "") -> str:
    svg = chart.render(is_unicode=True)
    svg = _COMMENT.sub("", _SCRIPT.sub("", svg))
    return _titles(svg, series or [], unit)


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


def _whole(value: float) -> str:
    return f"{value:,.0f}"


def _xy(title: str, points: Sequence[Point], series: list[tuple[str, Callable[[Point], float | None]]],
        unit: str, style: Style, whole: bool = False) -> pygal.XY:
    """A chart over time; ``whole``: the values are counts (users), so the axis has whole numbers only."""
    extra: dict = {}
    if whole:
        top = max((v for _, get in series for p in points if (v := get(p)) is not None), default=0.0)
        step = max(1, math.ceil(top / 5))
        extra = {"y_labels": list(range(0, int(top) + step + 1, step))}
    chart = pygal.XY(
        **{**_CONFIG, "style": style, "show_dots": len(points) <= HOVER_POINTS, "dots_size": 1.6},
        x_value_formatter=_clock,
        value_formatter=(lambda v: f"{_whole(v)}{unit}") if whole else (lambda v: f"{_number(v)}{unit}"),
        range=None,
        min_scale=3,
        max_scale=6,
        **extra,
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
        ("users", "Active users", [("active", lambda p: p.users), ("asked for", lambda p: p.target)], ""),  # whole
        ("latency", "HTTP latency (ms, per second)",
         [("p50", lambda p: p.p50), ("p95", lambda p: p.p95), ("p99", lambda p: p.p99), *ttfb], " ms"),
        ("errors", "Errors per second", [("failures/s", lambda p: p.fps)], "/s"),
    ]
    if websocket:
        specs.append(("ws", "WebSocket connections open", [("open", lambda p: p.ws_open)], ""))
    out = []
    for key, title, series, unit in specs:
        chart = _xy(title, points, series, unit, _RED if key == "errors" else _STYLE,
                    whole=key in ("users", "ws"))
        out.append(Chart(key, title, _svg(chart, [name for name, _ in series])))
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
        range=(0, max(counts) * 1.12),  # headroom: the tallest bar does not touch the top
    )
    chart.title = "Latency distribution, HTTP successes (ms)"
    chart.x_labels = [_number(upper) for upper, _ in distribution]
    chart.add("requests", [count for _, count in distribution])
    return Chart("distribution", chart.title, _svg(chart, ["requests"], unit=" ms"))
