"""Generator health: how hard the load tester itself works, with a warning when it saturates."""

from __future__ import annotations

from textual.content import Content

from ..metrics.snapshot import Snapshot
from .columns import ColumnsPanel
from .units import megabytes, ms

__all__ = ["GeneratorHealth", "SATURATED_WARNING"]

SATURATED_WARNING = "generator saturated: latency now measures this machine, not the target"


class GeneratorHealth(ColumnsPanel):
    """CPU, event-loop lag and memory per worker. Carries the ``-saturated`` class while it is."""

    DEFAULT_CSS = """
    GeneratorHealth {
        border: round $panel;
        border-title-color: $text-accent;
        height: auto;
        padding: 0 1;
        &.-saturated {
            border: heavy $warning;
            border-title-color: $text-warning;
        }
    }
    """

    def on_mount(self) -> None:
        self.border_title = "Generator"
        self.show_rows((), lead=Content.styled("waiting for the first tick", "dim"))

    def update_snapshot(self, s: Snapshot) -> None:
        rows: list[tuple] = [
            (f"worker {h.worker}", f"cpu {h.cpu_percent:.0f} %", f"lag {ms(h.loop_lag_ms)}", f"rss {megabytes(h.rss_mb)}")
            for h in s.health
        ]
        if not s.health:
            rows.append((Content.styled("no workers reporting", "dim"),))
        self.set_class(s.saturated, "-saturated")
        self.border_title = "Generator: SATURATED" if s.saturated else "Generator"
        self.show_rows(rows, lead=Content.styled(SATURATED_WARNING, "bold reverse") if s.saturated else None)
