"""Latency percentiles of the last interval and of the whole run (open model: corrected and service time;
closed model with connection timings: the whole run's time to first byte beside them)."""

from __future__ import annotations

from ..metrics.snapshot import EndpointStats, LatencyStats, Snapshot
from ..metrics.kinds import ALL, Kind
from .columns import ColumnsPanel
from .units import ms

__all__ = ["PercentilePanel", "headline_stats", "PERCENTILE_ROWS"]

PERCENTILE_ROWS: tuple[tuple[str, float], ...] = (
    ("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9), ("max", 100.0),
)


def headline_stats(snapshot: Snapshot, total: bool) -> EndpointStats | None:
    """The row the dashboard leads with: all HTTP endpoints together, else everything together."""
    return snapshot.find(Kind.HTTP, total=total) or snapshot.find(ALL, total=total)


def headline_label(snapshot: Snapshot | None) -> str:
    """What :func:`headline_stats` adds up, for the panels' titles: ``HTTP`` or ``all kinds``."""
    return "all kinds" if snapshot is not None and snapshot.find("http") is None and snapshot.find("all") else "HTTP"


def _value(stats: LatencyStats | None, p: float) -> str:
    if stats is None or stats.count == 0:
        return "-"
    return ms(stats.max if p == 100.0 else stats.pct(p))


class PercentilePanel(ColumnsPanel):
    """Percentile table of successful requests. Open model: ``corrected`` beside ``service`` time."""

    DEFAULT_CSS = """
    PercentilePanel {
        border: round $panel;
        border-title-color: $text-accent;
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(spread=True, **kwargs)

    def on_mount(self) -> None:
        self.update_snapshot(None)

    def update_snapshot(self, snapshot: Snapshot | None) -> None:
        open_model = snapshot is not None and snapshot.model == "open"
        interval = headline_stats(snapshot, total=False) if snapshot else None
        total = headline_stats(snapshot, total=True) if snapshot else None
        span = f"last {snapshot.interval:.0f} s" if snapshot else "last tick"
        if open_model:
            self.border_title = f"Latency, {headline_label(snapshot)} (corrected | service)"
            header = ("", span, "service", "whole run", "service")
            series = (interval.latency if interval else None, interval.service if interval else None,
                      total.latency if total else None, total.service if total else None)
        else:
            self.border_title = f"Latency, {headline_label(snapshot)}"
            header = ("", span, "whole run")
            series = (interval.latency if interval else None, total.latency if total else None)
            if total is not None and total.ttfb is not None:  # connection timings kept: the server's share
                header, series = (*header, "1st byte"), (*series, total.ttfb)
        rows = [(label, *(_value(stats, p) for stats in series)) for label, p in PERCENTILE_ROWS]
        self.show_rows(rows, header=header)
