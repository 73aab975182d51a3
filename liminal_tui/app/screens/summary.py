"""After a run: the final figures, each threshold's verdict, and where the report went."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from ...engine.snapshot import Snapshot
from ...profile import Profile, Verdict
from ...widgets.units import clock, count, ms, pct, per_s

__all__ = ["SummaryScreen"]

_KIND_LABEL = {"http": "HTTP", "ws_connect": "WS connect", "ws_ping": "heartbeat RTT",
               "ws_message": "WS messages", "all": "everything"}


def figures(final: Snapshot) -> Table:
    """Whole-run figures per metric kind (each kind's Aggregated row)."""
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False)
    table.add_column("kind", no_wrap=True)
    for head in ("requests", "failures", "errors", "RPS", "p50", "p95", "p99", "max"):
        table.add_column(head, justify="right", no_wrap=True)
    for s in final.total_stats:
        if s.name != "Aggregated" or s.kind == "all":
            continue
        lat = s.latency
        table.add_row(
            _KIND_LABEL.get(s.kind, s.kind), count(s.total), count(s.failures), pct(s.error_rate),
            per_s(s.total / final.elapsed if final.elapsed else 0.0),
            *(ms(v) if lat.count else "-" for v in (lat.p50, lat.p95, lat.p99, lat.max)),
        )
    return table


def verdict_table(verdicts: list[Verdict]) -> Table | Text:
    if not verdicts:
        return Text("This profile has no thresholds.", style="dim")
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(no_wrap=True)
    table.add_column()
    for v in verdicts:
        mark = Text(" PASS " if v.passed else " FAIL ", style="bold" if v.passed else "bold reverse")
        table.add_row(mark, Text(v.describe().replace(": PASS ", ": ").replace(": FAIL ", ": ")))
    return table


class SummaryScreen(Screen[None]):
    """Replaces the dashboard when the final snapshot is in."""

    BINDINGS = [
        Binding("escape", "back", "Profiles", id="summary.back", tooltip="Back to the profile list"),
        Binding("r", "again", "Run again", id="summary.again", tooltip="Run the same profile again"),
        Binding("q", "app.quit", "Quit", id="summary.quit", tooltip="Quit liminal-tui"),
    ]

    def __init__(self, profile: Profile, final: Snapshot, verdicts: list[Verdict], report: Path | None) -> None:
        super().__init__()
        self.profile = profile
        self.final = final
        self.verdicts = verdicts
        self.report = report

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    def compose(self) -> ComposeResult:
        f = self.final
        failed = sum(not v.passed for v in self.verdicts)
        outcome = "PASSED" if self.passed else f"FAILED ({failed} of {len(self.verdicts)} thresholds)"
        yield Label(Text(f"{f.profile} -> {f.target}: {outcome}"), id="summary-title",
                    classes="-passed" if self.passed else "-failed")
        with VerticalScroll(id="summary-body"):
            reason = f" · stopped: {f.stop_reason}" if f.stop_reason else ""
            yield Static(Text(
                f"ran {clock(f.elapsed)} of {clock(f.duration)} · {count(f.iterations)} iterations · "
                f"peak load {f.target_load:g} {'users' if f.model == 'closed' else 'it/s'}{reason}"
            ), id="summary-run")
            yield Static("Results", classes="summary--heading")
            yield Static(figures(f), id="summary-figures")
            yield Static("Thresholds", classes="summary--heading")
            yield Static(verdict_table(self.verdicts), id="summary-verdicts")
            yield Static("Report", classes="summary--heading")
            yield Static(Text(str(self.report) if self.report else "no report was written"), id="summary-report")
        yield Footer()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_again(self) -> None:
        self.dismiss(None)
        self.app.start_run(self.profile)
