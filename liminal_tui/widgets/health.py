"""Generator health: how hard the load tester itself works, with a warning when it saturates."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ..engine.snapshot import Snapshot
from .units import megabytes, ms, relayout_needed

__all__ = ["GeneratorHealth", "SATURATED_WARNING"]

SATURATED_WARNING = "generator saturated: latency now measures this machine, not the target"


class GeneratorHealth(Static):
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
        self.update(Text("waiting for the first tick", style="dim"))

    def update_snapshot(self, s: Snapshot) -> None:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, style="bold")
        for _ in range(3):
            table.add_column(justify="right", no_wrap=True)
        for h in s.health:
            table.add_row(
                f"worker {h.worker}",
                f"cpu {h.cpu_percent:.0f} %",
                f"lag {ms(h.loop_lag_ms)}",
                f"rss {megabytes(h.rss_mb)}",
            )
        if not s.health:
            table.add_row(Text("no workers reporting", style="dim"))
        self.set_class(s.saturated, "-saturated")
        self.border_title = "Generator: SATURATED" if s.saturated else "Generator"
        layout = relayout_needed(self, (len(s.health), s.saturated))
        if s.saturated:
            self.update(Group(Text(SATURATED_WARNING, style="bold reverse"), table), layout=layout)
        else:
            self.update(table, layout=layout)
