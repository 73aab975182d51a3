"""A one-line trend: one cell per tick, newest on the right, bar heights from zero to the largest value.

Textual's ``Sparkline`` stretches the data over the width and scales bars from the smallest to the
largest value, so a dip from 14,000 to 13,000 req/s drew as a fall to nothing. Here a bar's height is
its value over the largest one shown, which reads honestly at a glance; the line scrolls left as ticks
arrive. It is drawn as one ``Strip`` of a few segments (runs of equal bars): the Rich renderable behind
``Sparkline`` cost about 1 ms a line a tick.
"""

from __future__ import annotations

from typing import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["TrendLine", "BARS", "bar_levels"]

BARS = "▁▂▃▄▅▆▇█"


def bar_levels(values: Sequence[float | None], width: int) -> list[int]:
    """The last ``width`` values as bar levels (0-7, or -1 for a cell with no tick yet or no value), newest last."""
    shown = list(values)[-width:] if width > 0 else []
    top = max((v for v in shown if v is not None), default=0.0)
    levels = [-1 if v is None else round(max(0.0, v) / top * (len(BARS) - 1)) if top > 0 else 0 for v in shown]
    return [-1] * (max(0, width) - len(levels)) + levels


class TrendLine(Widget):
    """Bars for a series of values; colours run from ``trend-line--low`` to ``trend-line--high``."""

    COMPONENT_CLASSES = {"trend-line--low", "trend-line--high"}

    DEFAULT_CSS = """
    TrendLine {
        height: 1;
        & > .trend-line--high { color: $primary; }
        & > .trend-line--low { color: $primary 30%; }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._values: tuple[float | None, ...] = ()

    @property
    def values(self) -> tuple[float | None, ...]:
        """The series; None is a tick without a value (drawn as a gap)."""
        return self._values

    def set_values(self, values: Sequence[float | None]) -> None:
        self._values = tuple(values)
        self.refresh()

    def _colours(self) -> list[Style]:
        _, base = self.background_colors
        low = base + self.get_component_styles("trend-line--low").color
        high = base + self.get_component_styles("trend-line--high").color
        steps = len(BARS) - 1
        return [Style(color=low.blend(high, i / steps).rich_color) for i in range(len(BARS))]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0 or width <= 0:
            return Strip.blank(width, self.rich_style)
        colours = self._colours()
        base = self.rich_style
        segments: list[Segment] = []
        levels = bar_levels(self._values, width)
        start = 0
        for i in range(1, len(levels) + 1):
            if i == len(levels) or levels[i] != levels[start]:
                level, run = levels[start], i - start
                if level < 0:
                    segments.append(Segment(" " * run, base))
                else:
                    segments.append(Segment(BARS[level] * run, base + colours[level]))
                start = i
        return Strip(segments, width)
