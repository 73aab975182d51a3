"""Failures of the whole run, grouped by endpoint and error, most frequent first."""

from __future__ import annotations

from textual.content import Content

from ..metrics.snapshot import Snapshot
from .figure_table import FigureTable
from .units import count

__all__ = ["FailureTable"]


class FailureTable(FigureTable):
    """One row per (endpoint, error) with its count and the first line of the message."""

    DEFAULT_CSS = """
    FailureTable {
        height: auto;
        max-height: 10;
        scrollbar-gutter: stable;
        border: round $panel;
        border-title-color: $text-accent;
        &:focus { border: round $accent; }
    }
    """

    def __init__(self, snapshot: Snapshot | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple | None = None  # the first snapshot always fills the table ("none" when empty)
        self._first = snapshot

    def on_mount(self) -> None:
        self.border_title = "Failures"
        self.add_column("count", key="count", justify="right")
        self.add_column("error", key="error")
        self.add_column("endpoint", key="endpoint")
        self.add_column("message", key="message", shrink=True)  # cut to the panel, not scrolled sideways
        if self._first is not None:  # a table made for one snapshot (the summary) shows it as it mounts
            self.call_later(self.update_snapshot, self._first)  # once is_mounted is set

    def update_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.errors == self._shown:
            return
        self._shown = snapshot.errors
        total = sum(e.count for e in snapshot.errors)
        self.border_title = f"Failures ({count(total)})" if total else "Failures"
        rows = [
            (f"{e.name}\x00{e.error}", (count(e.count), e.error, e.name, (e.message.splitlines() or [""])[0][:120]))
            for e in snapshot.errors[:50]
        ]
        self.set_rows(rows or [("none", ("", Content.styled("none", "dim"), "", ""))])
