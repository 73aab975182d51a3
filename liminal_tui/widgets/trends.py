"""Trend lines of the last ticks: requests/s, p99 latency, errors/s and open connections."""

from __future__ import annotations

from collections import deque
from typing import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

from ..metrics.snapshot import Snapshot
from .percentiles import headline_label, headline_stats
from .trendline import TrendLine
from .units import count, ms, per_s

__all__ = ["Trends", "TREND_SERIES"]


def _rps(s: Snapshot) -> float:
    stats = headline_stats(s, total=False)
    return stats.rps if stats else 0.0


def _p99(s: Snapshot) -> float | None:
    """None for a second without a success: a gap, not a "0.00 ms" that nothing measured."""
    stats = headline_stats(s, total=False)
    return stats.latency.p99 if stats and stats.latency.count else None


def _eps(s: Snapshot) -> float:
    stats = headline_stats(s, total=False)
    return stats.fps if stats else 0.0


def _conns(s: Snapshot) -> float:
    return float(s.http_connections + s.ws.open)


TREND_SERIES: tuple[tuple[str, str, Callable[[Snapshot], float | None], Callable[[float], str]], ...] = (
    ("rps", "RPS", _rps, per_s),
    ("p99", "p99", _p99, ms),
    ("errors", "errors", _eps, per_s),
    ("connections", "conns", _conns, lambda v: f"{count(int(v))} open"),
)
"""(id, label, value of a snapshot, format with unit)."""


class Trends(Vertical):
    """One labelled trend line per series, newest value on the right; keeps ``history`` ticks."""

    DEFAULT_CSS = """
    Trends {
        height: auto;
        border: round $panel;
        border-title-color: $text-accent;
        padding: 0 1;
        & > Horizontal { height: 1; }
        & .trend--label { width: 7; text-style: bold; }
        & TrendLine { width: 1fr; }
        & .trend--value { width: 12; text-align: right; }
    }
    """

    def __init__(self, history: int = 120, **kwargs) -> None:
        super().__init__(**kwargs)
        self._series = {key: deque(maxlen=history) for key, *_ in TREND_SERIES}

    def compose(self) -> ComposeResult:
        for key, label, _, fmt in TREND_SERIES:
            with Horizontal(id=f"trend-{key}"):
                yield Label(label, classes="trend--label")
                yield TrendLine(id=f"spark-{key}")
                yield Label("-", id=f"value-{key}", classes="trend--value")

    def on_mount(self) -> None:
        self.border_title = "Trends, HTTP"  # RPS and p99 of what headline_stats picks (HTTP, else all kinds)

    def update_snapshot(self, snapshot: Snapshot) -> None:
        self.update_snapshots([snapshot])

    def update_snapshots(self, snapshots: list[Snapshot]) -> None:
        """Add every tick in ``snapshots`` (a screen that skipped frames passes them all), then redraw."""
        if not snapshots:
            return
        self.border_title = f"Trends, {headline_label(snapshots[-1])}"
        for key, _, value_of, fmt in TREND_SERIES:
            series = self._series[key]
            series.extend(value_of(s) for s in snapshots)
            self.query_one(f"#spark-{key}", TrendLine).set_values(series)
            last = series[-1]
            self.query_one(f"#value-{key}", Label).update("-" if last is None else fmt(last), layout=False)  # fixed width
