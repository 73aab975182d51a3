"""Generator health: how hard the load tester itself works, with a warning when it saturates."""

from __future__ import annotations

from textual.content import Content

from ..metrics.snapshot import Snapshot, WorkerHealth
from .columns import ColumnsPanel
from .units import megabytes, ms

__all__ = ["GeneratorHealth", "SATURATED_WARNING"]

SATURATED_WARNING = "generator saturated: latency now measures this machine, not the target"


class GeneratorHealth(ColumnsPanel):
    """CPU, event-loop lag and memory per worker; in a cluster run, per host: its name, CPU, loop lag,
    saturation, clock offset and share of the requests. Carries the ``-saturated`` class while it is."""

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

    def __init__(self, **kwargs) -> None:
        super().__init__(shrink_first=True, **kwargs)  # a long host name gives way to the figures

    def update_snapshot(self, s: Snapshot) -> None:
        if any(h.host for h in s.health):
            rows = _host_rows(s.health)
        else:
            rows = [
                (f"worker {h.worker}", f"cpu {h.cpu_percent:.0f} %", f"lag {ms(h.loop_lag_ms)}",
                 f"rss {megabytes(h.rss_mb)}")
                for h in s.health
            ]
        if not s.health:
            rows.append((Content.styled("no workers reporting", "dim"),))
        self.set_class(s.saturated, "-saturated")
        self.border_title = "Generator: SATURATED" if s.saturated else "Generator"
        stopping = [h.label for h in s.health if h.stopping]
        if s.saturated:
            lead: Content | None = Content.styled(SATURATED_WARNING, "bold reverse")
        elif stopping:  # its figures are its stop's: shown, never saturation (WorkerHealth.stopping)
            lead = Content.styled(f"{', '.join(stopping)} stopping (closing connections)", "dim")
        else:
            lead = None
        self.show_rows(rows, lead=lead)


def _offset(value: float | None) -> str:
    return "-" if value is None else ("-" if value < 0 else "+") + ms(abs(value))


def _host_rows(health: tuple[WorkerHealth, ...]) -> list[tuple]:
    """Two lines a host: its number and name, CPU and loop lag; then whether it is saturated, its share of
    the run's requests so far and its clock's offset from the coordinator's."""
    total = sum(h.requests or 0 for h in health)
    rows: list[tuple] = []
    for h in health:
        share = f"{100 * (h.requests or 0) / total:.0f} %" if total and h.requests is not None else "-"
        state = (Content.styled("saturated", "bold reverse") if h.saturated
                 else Content.styled("stopping", "dim") if h.stopping else "")
        rows.append((f"{h.worker} {h.host or '?'}", f"cpu {h.cpu_percent:.0f} %", f"lag {ms(h.loop_lag_ms)}"))
        rows.append((state, f"share {share}", f"clock {_offset(h.clock_offset_ms)}"))
    return rows
