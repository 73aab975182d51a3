"""The app drives a real run (engine in-process) against the built-in demo target, through to the report."""

from __future__ import annotations

import pytest

import asyncio

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
        assert app.active_run is None
        assert not isinstance(app.screen, DashboardScreen)
