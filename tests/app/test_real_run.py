"""The app drives a real run (engine in-process) against the built-in demo target, through to the report."""

from __future__ import annotations

import pytest

import asyncio
import json

from liminal_tui.app import create_app
from liminal_tui.app.screens import DashboardScreen, SummaryScreen
from liminal_tui.profile import parse_profile
from liminal_tui.session import Session

pytestmark = pytest.mark.slow  # a real run with processes (the CLI, workers or the demo target)

SHORT = """
name = "short"
target = "builtin"
duration = "20s"

[load]
users = 2
spawn_rate = 20
think_time = "50ms"

[thresholds]
http = ["error_rate < 50%"]

[[scenarios]]
name = "list"

[[scenarios.steps]]
type = "http"
path = "/api/memories"
check = { status = 200 }
"""


async def until(pilot, condition, timeout: float = 10.0) -> None:
    async def poll():
        while not condition():
            await pilot.pause(0.1)

    await asyncio.wait_for(poll(), timeout)


async def test_real_run_to_report(tmp_path):
    app = create_app(
        profile_dirs=[], run_factory=lambda p: Session(p, workers=0, report_base=tmp_path / "reports", grace=1.0, tick=0.5)
    )
    async with app.run_test(size=(120, 40)) as pilot:
        dashboard = app.start_run(parse_profile(SHORT))
        await until(pilot, lambda: dashboard.last is not None and dashboard.last.iterations > 0)
        first = dashboard.last
        await until(pilot, lambda: dashboard.last.seq > first.seq + 1)  # numbers move
        assert dashboard.last.find("http").total > first.find("http").total
        assert app.active_run is dashboard.session
        await pilot.press("plus")  # 2 -> 3 users
        await until(pilot, lambda: dashboard.last.target_load == 3 and dashboard.last.users == 3)
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        summary = app.screen
        assert summary.final.final and summary.final.find("http").total > 0
        assert summary.report is not None and summary.report.is_dir()
        assert summary.report.parent == tmp_path / "reports"
        assert any(summary.report.iterdir())
        # Stopped by the user: never "PASSED", in the app and in the report, the thresholds judged over what ran.
        assert "STOPPED (thresholds judged over what ran: 1 of 1 passed)" in str(summary.query_one("#summary-title").content)
        data = json.loads((summary.report / "summary.json").read_text())
        assert data["outcome"] == "stopped" and data["passed"] is False and data["thresholds"]["passed"] is True
        html = (summary.report / "report.html").read_text()
        assert '<span class="badge none">STOPPED</span>' in html and ">PASSED<" not in html
        assert "Thresholds were judged over what ran." in html
        assert str(summary.report) in str(summary.query_one("#summary-report").content)
        assert summary.query_one("#summary-report").region.y < 24  # above the fold at any height
        assert app.active_run is None
        assert not isinstance(app.screen, DashboardScreen)


async def test_unreachable_target_says_why_offers_what_works_and_leaves_no_folder(tmp_path, closed_port):
    """The reason stays on screen in place of the panels; only back and try-again are offered."""
    reports = tmp_path / "reports"
    app = create_app(profile_dirs=[], run_factory=lambda p: Session(p, workers=0, report_base=reports, grace=1.0))
    profile = parse_profile(SHORT.replace('target = "builtin"', f'target = "http://127.0.0.1:{closed_port}"'))
    async with app.run_test(size=(80, 24)) as pilot:
        dashboard = app.start_run(profile)
        await pilot.pause()
        await until(pilot, lambda: dashboard.phase == "failed")
        await pilot.pause()
        failed = dashboard.query_one("#dash-failed")
        assert failed.display and "refused" in str(failed.render())
        assert "no report was written" in str(failed.render())
        assert not dashboard.query_one("#dash-body").display  # no "waiting for the first tick" panels
        assert "preflight" not in str(dashboard.query_one("#run-load").render())
        offered = {b.binding.action for b in dashboard.active_bindings.values() if b.enabled}
        offered = {a for a in offered if a.split("(")[0] in ("load", "stop", "abort", "sort", "back", "again")}
        assert offered == {"back", "again"}, offered
        footer_keys = [b.binding.key for b in app.screen.active_bindings.values()
                       if b.binding.show and app.screen.check_action(b.binding.action.split("(")[0], ()) is not False]
        assert "s" not in footer_keys and "ctrl+x" not in footer_keys
        assert not list(reports.glob("*")), "the report folder made before the preflight is removed"
        await pilot.press("r")  # try again: the same reason again
        await pilot.pause()
        await pilot.pause()
        again = app.screen
        assert isinstance(again, DashboardScreen) and again is not dashboard
        await until(pilot, lambda: again.phase == "failed")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DashboardScreen)
