"""A profile's past runs from ``reports/``: trend lines across runs, and any two compared side by side."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from ...history.commands import history_rows
from ...history.compare import Comparison, compare
from ...history.index import RunIndex, scan
from ...history.record import RunRecord, clean
from ...widgets.comparison import comparison_tables, verdict_text
from ...widgets.trendline import TrendLine

__all__ = ["HistoryScreen", "CompareScreen"]


class HistoryScreen(Screen[None]):
    """The runs of one profile, oldest first; mark two with space and press c to compare them."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back", tooltip="Back to the profile list"),
        Binding("space", "mark", "Mark", id="history.mark", tooltip="Mark the highlighted run for comparison (two at most)"),
        Binding("c", "compare", "Compare", id="history.compare",
                tooltip="Compare the two marked runs (or the highlighted run with the one before it)"),
        Binding("f5", "reload", "Reload", show=False, id="history.reload", tooltip="Read the reports folder again"),
    ]

    def __init__(self, profile: str, reports: Path) -> None:
        super().__init__()
        self.profile = profile
        """The profile whose runs are listed (its ``name``)."""
        self.reports = reports
        """The reports folder: the history store."""
        self.index: RunIndex | None = None
        self.runs: list[RunRecord] = []
        """Runs of the profile, oldest first (the table's rows, in order)."""
        self.marked: list[int] = []
        """Row numbers marked for comparison, in the order they were marked."""

    def compose(self) -> ComposeResult:
        yield Label(Text(f"History of {clean(self.profile)}"), id="history-title")
        with Horizontal(id="history-trends"):
            with Vertical():
                yield Label("req/s across runs", id="history-rps-label")
                yield TrendLine(id="history-rps")
            with Vertical():
                yield Label("p99 ms across runs", id="history-p99-label")
                yield TrendLine(id="history-p99")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="history-notes")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(" ", "started", "duration", "req/s", "p99 ms", "errors", "thresholds", "vs previous", "target")
        self.action_reload()

    @work(thread=True, exclusive=True, group="history")
    def action_reload(self) -> None:
        index = scan(self.reports)
        rows = history_rows(index, self.profile)
        self.app.call_from_thread(self._show, index, rows)

    def _show(self, index: RunIndex, rows: list[tuple[RunRecord, Comparison | None]]) -> None:
        self.index = index
        self.runs = [run for run, _ in rows]
        self.marked = []
        table = self.query_one(DataTable)
        table.clear()
        for i, (run, c) in enumerate(rows):
            p99 = run.p99
            total = run.total
            table.add_row(
                " ", run.started.strftime("%Y-%m-%d %H:%M:%S"), f"{run.duration_s:.0f} s",
                f"{float(total.get('rps') or 0):,.1f}", "-" if p99 is None else f"{p99:,.2f}",
                f"{float(total.get('error_rate') or 0) * 100:.2f}%",
                {None: "-", True: "PASS", False: "FAIL"}[run.passed],
                verdict_text(c.verdict) if c is not None else "-", Text(clean(run.target)), key=str(i),
            )
        if self.runs:
            table.move_cursor(row=len(self.runs) - 1)
        self.query_one("#history-rps", TrendLine).set_values([float(r.total.get("rps") or 0) for r in self.runs])
        self.query_one("#history-p99", TrendLine).set_values([r.p99 or 0.0 for r in self.runs])
        if self.runs:
            rps = [float(r.total.get("rps") or 0) for r in self.runs]
            self.query_one("#history-rps-label", Label).update(
                f"req/s across runs: last {rps[-1]:,.1f}, range {min(rps):,.1f}–{max(rps):,.1f}")
            p99s = [p for r in self.runs if (p := r.p99) is not None]
            if p99s:
                self.query_one("#history-p99-label", Label).update(
                    f"p99 ms across runs: last {p99s[-1]:,.2f}, range {min(p99s):,.2f}–{max(p99s):,.2f}")
        title = f"History of {clean(self.profile)}: {len(self.runs)} run(s) in {clean(self.reports)}"
        self.query_one("#history-title", Label).update(Text(title))
        notes = [clean(n) for n in index.notes]
        if not self.runs:
            notes.insert(0, f"No run of {clean(self.profile)} yet: run it (r on the profile list) and come back.")
        else:
            notes.insert(0, "space: mark two runs · c: compare them (or the highlighted run with the one before)")
        self.query_one("#history-notes", Static).update(Text("\n".join(notes), style="dim"))
        self.query_one(DataTable).focus()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_mark(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        if not 0 <= row < len(self.runs):
            return
        if row in self.marked:
            self.marked.remove(row)
        else:
            self.marked.append(row)
            if len(self.marked) > 2:
                self.marked.pop(0)
        for i in range(len(self.runs)):
            table.update_cell(str(i), table.ordered_columns[0].key, "*" if i in self.marked else " ")

    def pair(self) -> tuple[RunRecord, RunRecord] | None:
        """The two runs to compare, older first: the marked ones, or the highlighted one and its previous."""
        if len(self.marked) == 2:
            a, b = sorted(self.marked)
        else:
            b = self.query_one(DataTable).cursor_row
            a = b - 1
        if a < 0 or b >= len(self.runs):
            return None
        return self.runs[a], self.runs[b]

    def action_compare(self) -> None:
        pair = self.pair()
        if pair is None:
            self.notify("Mark two runs with space, or highlight a run that has one before it.", title="Compare")
            return
        self.app.push_screen(CompareScreen(compare(*pair, history=self.runs)))

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_mark()


class CompareScreen(Screen[None]):
    """Two runs side by side: per endpoint, each figure of the old run and of the new one, the change and
    whether it is more than noise."""

    BINDINGS = [Binding("escape", "back", "Back", id="compare.back", tooltip="Back to the history")]

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        c = self.comparison
        yield Label(Text.assemble(f"{clean(c.new.profile)}: ", verdict_text(c.verdict.upper())), id="compare-title")
        with VerticalScroll(id="compare-body"):
            with Horizontal(id="compare-runs"):
                for side, run in (("old", c.old), ("new", c.new)):
                    yield Static(Text(f"{side}: {clean(run.label)}\n{clean(run.started_at)} · {run.duration_s:.0f} s\n"
                                      f"{clean(run.target)}"), classes="compare-run", id=f"compare-{side}")
            yield Static(Group(*comparison_tables(c, "old", "new")), id="compare-tables")
            peers = [f"Run-to-run spread from {len(c.peers)} other run(s)."] if c.peers else []
            notes = [*peers, c.method, *map(clean, c.notes)]
            yield Static(Text("\n".join(notes), style="dim"), id="compare-method")
        yield Footer()

    def action_back(self) -> None:
        self.dismiss(None)


def change_since_previous(report: Path) -> Text | Group:
    """For the Summary screen: the run in ``report`` against the previous run of its profile (same folder)."""
    index = scan(report.parent)
    here = report.resolve()
    run = next((r for r in index.runs if r.folder.resolve() == here), None)
    if run is None:
        return Text("This run's report could not be read back for a comparison.", style="dim")
    before = index.previous(run)
    if before is None:
        return Text(f"No earlier run of {clean(run.profile)} in {clean(report.parent)} to compare with.", style="dim")
    c = compare(before, run, history=index.runs)
    changed = [f"{clean(e.name)}: {e.verdict}" for e in c.endpoints[:-1] if e.verdict in ("worse", "better")]
    lines = Text.assemble("Against ", (clean(before.label), "bold"), f" ({clean(before.started_at)}): ",
                          verdict_text(c.verdict.upper()))
    if changed:
        lines.append("\n" + "; ".join(changed))
    return Group(lines, *comparison_tables(c, "previous", "this run")[-1:],
                 Text("A change counts only beyond the run-to-run noise (see --compare for the method).", style="dim"))
