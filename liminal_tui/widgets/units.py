"""Numbers as the screen shows them: always with their unit beside them."""

from __future__ import annotations

__all__ = ["ms", "per_s", "count", "pct", "clock", "megabytes", "load_value"]


def ms(value: float | None) -> str:
    """Milliseconds: ``0.84 ms``, ``12.3 ms``, ``512 ms``, ``1.52 s``."""
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def per_s(value: float, unit: str = "/s") -> str:
    if value >= 1000:
        return f"{value:,.0f}{unit}"
    if value >= 100:
        return f"{value:.0f}{unit}"
    return f"{value:.1f}{unit}"


def count(value: int) -> str:
    return f"{value:,}"


def pct(fraction: float) -> str:
    return f"{fraction * 100:.2f} %"


def clock(seconds: float) -> str:
    """``75 -> "1m15s"``, ``3725 -> "1h02m05s"``."""
    seconds = int(max(0.0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    if m:
        return f"{m}m{s:02d}s"
    return f"{s}s"


def megabytes(value: float) -> str:
    return f"{value:.0f} MB"


def load_value(model: str, value: float) -> str:
    """Users (closed model) or iterations per second (open model)."""
    if model == "open":
        return per_s(value, " it/s")
    return f"{value:,.0f} users"


def relayout_needed(widget: object, shape: object) -> bool:
    """True when ``shape`` (what decides a widget's size: its line count, say) differs from the last one.

    Dashboard panels redraw every tick; a layout pass reflows the whole screen and cost most of the
    app's CPU during a run, so a panel asks for one only when its size can have changed."""
    changed = getattr(widget, "_liminal_shape", None) != shape
    setattr(widget, "_liminal_shape", shape)
    return changed
