"""A profile's load over time, drawn as a small block chart: ramp-up, stages, steady state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..profile import Profile

__all__ = ["Ramp", "load_curve"]

_BLOCKS = " ▁▂▃▄▅▆▇█"


def load_curve(profile: Profile) -> tuple[tuple[float, float], ...]:
    """(seconds, load) corner points: users (closed) or iterations/s (open), joined by straight lines."""
    load = profile.load
    duration = float(profile.duration or 0.0)
    if load.stages:
        points = [(0.0, 0.0)]
        t = 0.0
        for stage in load.stages:
            t += stage.duration
            points.append((t, stage.target))
        if t < duration:
            points.append((duration, points[-1][1]))
        return tuple(points)
    if load.model == "open":
        return ((0.0, load.rate), (duration, load.rate))
    ramp = min(load.users / load.spawn_rate, duration) if duration else 0.0
    reached = load.users if not duration or ramp < duration else load.spawn_rate * duration
    return ((0.0, 0.0), (ramp, reached), (duration, reached))


def _value_at(points: tuple[tuple[float, float], ...], t: float) -> float:
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t0 <= t <= t1:
            return v1 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1] if points else 0.0


class Ramp(Widget):
    """Block chart of a load curve; fills its width, ``height`` rows tall (3 by default)."""

    DEFAULT_CSS = """
    Ramp {
        height: 3;
        width: 1fr;
        color: $accent;
        background: $boost;
    }
    """

    points: reactive[tuple[tuple[float, float], ...]] = reactive(())
    """Corner points (seconds, load) of the curve, as :func:`load_curve` returns them."""

    def __init__(self, points: tuple[tuple[float, float], ...] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_reactive(Ramp.points, tuple(points))

    def show_profile(self, profile: Profile) -> None:
        self.points = load_curve(profile)

    def render(self) -> Text:
        width, height = self.size.width, max(1, self.size.height)
        points = self.points
        end = points[-1][0] if points else 0.0
        peak = max((v for _, v in points), default=0.0)
        if width <= 0 or end <= 0 or peak <= 0:
            return Text("\n".join(" " * width for _ in range(height)))
        levels = [
            _value_at(points, (col + 0.5) / width * end) / peak * height * 8 for col in range(width)
        ]
        rows = []
        for row in range(height):
            floor = (height - 1 - row) * 8
            rows.append("".join(_BLOCKS[int(min(8, max(0, round(lv - floor))))] for lv in levels))
        return Text("\n".join(rows), no_wrap=True)
