"""History and Compare screens (Pilot) over real runs against tests/servers.py, and the Summary screen's
change since the previous run."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from rich.console import Console
from textual.widgets import DataTable, Label, Static

from liminal_tui.app import create_app
from liminal_tui.app.screens import CompareScreen, HistoryScreen, ProfilesScreen, SummaryScreen
from liminal_tui.profile import load_profile
from liminal_tui.session import Session
from liminal_tui.widgets.trendline import TrendLine

PROFILE = """
name = "hist"
target = "{target}"
duration = "1.5s"

[load]
users = 4
spawn_rate = 100

[[scenarios]]
name = "slow"
[[scenarios.steps]]
type = "http"
path = "/delay/{delay}"
name = "GET /delay"
"""


def plain(renderable) -> str:
    console = Console(width=140, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


async def until(pilot, condition, timeout: float = 15.0) -> None:
    async def poll():
        while not condition():
            await pilot.pause(0.05)

    await asyncio.wait_for(poll(), timeout)


def session_factory(reports: Path):
    return lambda profile: Session(profile, workers=0, report_base=reports, grace=1.0, tick=0.5)


async def real_run(path: Path, reports: Path) -> Path:
    session = session_factory(reports)(load_profile(path))
    session.prepare()
    await session.start()
    outcome = await session.finish()
    assert outcome.report_dir is not None
    return outcome.report_dir


async def test_history_lists_runs_compares_two_and_summary_shows_the_change(workdir, test_server):
    profile = workdir / "profiles" / "hist.toml"
    reports = workdir / "reports"
    profile.write_text(PROFILE.format(target=test_server.url, delay=5))
    fast = await real_run(profile, reports)
    profile.write_text(PROFILE.format(target=test_server.url, delay=40))
    slow = await real_run(profile, reports)
    (reports / "not-a-report").mkdir()

    app = create_app(profile_dirs=[workdir / "profiles"], start_profile=profile, run_factory=session_factory(reports))
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, ProfilesScreen)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and len(app.screen.runs) == 2)
        history = app.screen
        table = history.query_one(DataTable)
        assert table.row_count == 2
        assert [r.folder.name for r in history.runs] == [fast.name, slow.name]
        assert "worse" in str(table.get_row_at(1)[7]) and str(table.get_row_at(0)[7]) == "-"
        rps = history.query_one("#history-rps", TrendLine).values
        assert rps == tuple(r.total["rps"] for r in history.runs) and min(rps) > 0
        assert history.query_one("#history-p99", TrendLine).values == tuple(r.p99 for r in history.runs)
        assert f"last {history.runs[1].total['rps']:,.1f}" in str(history.query_one("#history-rps-label", Label).content)
        assert "skipped not-a-report: no summary.json" in plain(history.query_one("#history-notes", Static).content)

        table.move_cursor(row=0)
        await pilot.press("space")
        table.move_cursor(row=1)
        await pilot.press("space")
        assert history.marked == [0, 1]
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        shown = app.screen
        assert plain(shown.query_one("#compare-old", Static).content).startswith(f"old: {fast.name}")
        assert plain(shown.query_one("#compare-new", Static).content).startswith(f"new: {slow.name}")
        tables = plain(shown.query_one("#compare-tables", Static).content)
        assert "GET /delay: worse" in tables and "p50 ms" in tables
        assert shown.comparison.total.metric("p50").verdict == "worse"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is history)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ProfilesScreen))

        # a run from the app: its summary compares it with the previous run of the same profile. (Its
        # figures are not asserted: engine, server and app share one event loop here; the direction of
        # a change is tested on CLI runs in tests/test_history.py.)
        app.start_run(load_profile(profile))
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen), timeout=30)
        change = app.screen.query_one("#summary-change", Static)
        await until(pilot, lambda: "Against" in plain(change.content))
        text = plain(change.content)
        assert f"Against {slow.name}" in text
        assert re.search(r"previous\s+this run\s+change\s+noise \(95%\)\s+verdict", text), text
        assert re.search(r"p50 ms\s+[\d.,]+\s+[\d.,]+\s+[-+]\d+\.\d%\s+±[\d.]+%\s+(better|worse|same)", text), text


async def test_history_of_a_profile_without_runs(workdir):
    app = create_app(profile_dirs=[workdir / "profiles"])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.index is not None)
        assert app.screen.runs == []
        assert "No run of" in plain(app.screen.query_one("#history-notes", Static).content)
        await pilot.press("c")  # nothing to compare: a notice, no crash
        assert isinstance(app.screen, HistoryScreen)
