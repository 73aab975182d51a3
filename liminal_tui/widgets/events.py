"""A log of what happened during a run: phase changes and the engine's notable events."""

from __future__ import annotations

from textual.widgets import Log

from ..metrics.snapshot import Snapshot
from ..metrics.events import EventKind
from .units import clock

__all__ = ["EventLog"]


class EventLog(Log):
    """Lines stamped with the run's elapsed time; phase changes are noticed here, not in the engine."""

    DEFAULT_CSS = """
    EventLog {
        height: auto;
        min-height: 3;
        max-height: 10;
        scrollbar-gutter: stable;
        border: round $panel;
        border-title-color: $text-accent;
        &:focus { border: round $accent; }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=500, auto_scroll=True, **kwargs)
        self._phase: str | None = None

    def on_mount(self) -> None:
        self.border_title = "Events"

    def note(self, text: str, elapsed: float | None = None) -> None:
        stamp = f"[{clock(elapsed)}] " if elapsed is not None else ""
        self.write_line(stamp + text)
        self.refresh(layout=True)  # events are rare; the log's height grows with them up to its max

    def update_snapshot(self, snapshot: Snapshot) -> None:
        """Log the phase change and events of ``snapshot``; call it for every snapshot, skipped or not."""
        if snapshot.phase != self._phase:
            self._phase = snapshot.phase
            self.note(f"phase: {snapshot.phase}", snapshot.elapsed)
        for event in snapshot.events:
            if event.kind != EventKind.PHASE:
                self.note(event.text, snapshot.elapsed)
