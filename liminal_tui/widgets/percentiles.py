"""Latency percentiles of the last interval and of the whole run (open model: corrected and service time)."""

from __future__ import annotations

from rich.table import Table
from textual.widgets import Static

from ..engine.snapshot import EndpointStats, LatencyStats, Snapshot
from .units import ms, relayout_needed

__all__ = ["PercentilePanel", "headline_stats", "PERCENTILE_ROWS"]

PERCENTILE_ROWS: tuple[tuple[str, float], ...] = (
    ("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9), ("max", 100.0),
)


def headline_stats(snapshot: Snapshot, total: bool) -> EndpointStats | None:
    """The row the dashboard leads with: all HTTP endpoints together, else everything together."""
    return snapshot.find("http", total=total) or snapshot.find("all", total=total)


def _value(stats: LatencyStats | None, p: float) -> str:
    if stats is None or stats.count == 0:
        return "-"
    return ms(stats.max if p == 100.0 else stats.pct(p))


class PercentilePanel(Static):
    """Percentile table of successful requests. Open model: ``corrected`` beside ``service`` time."""

    DEFAULT_CSS = """
    PercentilePanel {
        border: round $panel;
        border-title-color: $text-accent;
        height: auto;
        padding: 0 1;
    }
    """

    def on_mount(self) -> None:
        self.border_title = "Latency"
        self.update(self._table(None))

    def update_snapshot(self, snapshot: Snapshot) -> None:
        self.update(self._table(snapshot), layout=relayout_needed(self, snapshot.model))

    def _table(self, snapshot: Snapshot | None) -> Table:
        open_model = snapshot is not None and snapshot.model == "open"
        interval = headline_stats(snapshot, total=False) if snapshot else None
        total = headline_stats(snapshot, total=True) if snapshot else None
        table = Table(box=None, expand=True, padding=(0, 1), pad_edge=False, header_style="bold")
        table.add_column("", no_wrap=True)
        span = f"last {snapshot.interval:.0f} s" if snapshot else "last tick"
        if open_model:
            self.border_title = "Latency (corrected | service)"
            for head in (span, "service", "whole run", "service"):
                table.add_column(head, justify="right", no_wrap=True)
        else:
            self.border_title = "Latency"
            table.add_column(span, justify="right", no_wrap=True)
            table.add_column("whole run", justify="right", no_wrap=True)
        for label, p in PERCENTILE_ROWS:
            if open_model:
                table.add_row(
                    label,
                    _value(interval.latency if interval else None, p),
                    _value(interval.service if interval else None, p),
                    _value(total.latency if total else None, p),
                    _value(total.service if total else None, p),
                )
            else:
                table.add_row(
                    label,
                    _value(interval.latency if interval else None, p),
                    _value(total.latency if total else None, p),
                )
        return table
