"""After a run: how it ended, where the report went, the final figures, each threshold's verdict, every
endpoint and every failure (what the headless summary prints)."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from ...metrics.judge import outcome_of, outcome_text
from ...metrics.kinds import ALL, Kind
from ...metrics.snapshot import Snapshot
from ...profile import Profile, Verdict
from ...widgets import EndpointTable, FailureTable
from ...widgets.units import clock, count, ms, pct, per_s

__all__ = ["SummaryScreen"]

_KIND_LABEL = {Kind.HTTP: "HTTP", Kind.WS_CONNECT: "WS connect", Kind.WS_PING: "heartbeat",
               Kind.WS_MESSAGE: "WS message", ALL: "everything"}


def figures(final: Snapshot) -> Table:
    """Whole-run figures, one column per metric kind (that kind's Aggregated row), so it fits 80 columns."""
    kinds = [s for s in final.total_stats.aggregates if s.kind != ALL]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("", no_wrap=True, style="bold")
    for s in kinds:
        table.add_column(_KIND_LABEL.get(s.kind, s.kind), justify="right", no_wrap=True)
    seconds = final.elapsed or 1.0
    rows = [
        ("requests", lambda s: count(s.total)),
        ("failures", lambda s: count(s.failures)),
        ("error rate", lambda s: pct(s.error_rate)),
        ("rate", lambda s: per_s(s.total / seconds)),
        ("p50", lambda s: ms(s.latency.p50) if s.latency.count else "-"),
        ("p95", lambda s: ms(s.latency.p95) if s.latency.count else "-"),
        ("p99", lambda s: ms(s.latency.p99) if s.latency.count else "-"),
        ("max", lambda s: ms(s.latency.max) if s.latency.count else "-"),
    ]
    for label, value in rows:
        table.add_row(label, *(value(s) for s in kinds))
    return table


def verdict_table(verdicts: list[Verdict]) -> Table | Text:
    if not verdicts:
        return Text("This profile has no thresholds.", style="dim")
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(no_wrap=True)
    table.add_column()
    for v in verdicts:
        mark = Text(" PASS " if v.passed else " FAIL ", style="bold" if v.passed else "bold reverse")
        observed = v.describe().rpartition("(")[2].rstrip(")")
        table.add_row(mark, Text(f"{v.rule.selector} {v.rule.text}  (observed {observed})"))
    return table


class SummaryScreen(Screen[None]):
    """Replaces the dashboard when the final snapshot is in."""

    AUTO_FOCUS = "#summary-body"

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
    def outcome(self) -> str:
        """``passed``, ``failed``, ``stopped`` or ``aborted`` (see :func:`~liminal_tui.metrics.judge.outcome_of`)."""
        return outcome_of(self.final.stop_reason, self.verdicts)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def compose(self) -> ComposeResult:
        f = self.final
        yield Label(Text(f"{f.profile} -> {f.target}: {outcome_text(f.stop_reason, self.verdicts)}"),
                    id="summary-title", classes=f"-{self.outcome}")
        report = f"Report: {self.report}" if self.report else "Report: none was written"
        yield Label(Text(report), id="summary-report")  # above the fold, whatever the screen's height
        with VerticalScroll(id="summary-body"):
            reason = f" · ended: {f.stop_reason}" if f.stop_reason else ""
            yield Static(Text(
                f"ran {clock(f.elapsed)} of {clock(f.duration)} · {count(f.iterations)} iterations · "
                f"peak load {f.peak_users if f.model == 'closed' else f.peak_target:g} "
                f"{'users' if f.model == 'closed' else 'it/s'}{reason}"
            ), id="summary-run")
            yield Static("Thresholds", classes="summary--heading")
            yield Static(verdict_table(self.verdicts), id="summary-verdicts")
            yield Static("Results per kind (each kind's Aggregated row)", classes="summary--heading")
            yield Static(figures(f), id="summary-figures")
            yield Static("Change since the previous run", classes="summary--heading")
            yield Static(Text(self._change_status(), style="dim"), id="summary-change")
            yield EndpointTable(id="summary-endpoints", aggregates="every", snapshot=f)
            yield FailureTable(id="summary-failures", snapshot=f)
        yield Footer()

    def _change_status(self) -> str:
        if self.report is None:
            return "No report was written: nothing to compare."
        if not (self.report / "summary.json").is_file():
            return "This run's report has no summary.json to compare."
        return "Reading the earlier runs..."

    def on_mount(self) -> None:
        # No queries here: when the app is quitting as this screen arrives, Textual skips mounting its
        # children, and the tables fill themselves from the snapshot they were made with.
        if self.report is not None and (self.report / "summary.json").is_file():
            self._load_change(self.report)

    @work(thread=True, exclusive=True, group="summary-change")
    def _load_change(self, report: Path) -> None:
        from .history import change_since_previous

        change = change_since_previous(report)
        self.app.call_from_thread(self._show_change, change)

    def _show_change(self, change: RenderableType) -> None:
        for panel in self.query("#summary-change").results(Static):  # none once the screen has gone
            panel.update(change)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_again(self) -> None:
        self.dismiss(None)
        self.app.start_run(self.profile)
