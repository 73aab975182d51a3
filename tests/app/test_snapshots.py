"""How each screen looks at 80x24 and 120x40, with fixed data (pytest-textual-snapshot).

Update after a deliberate change with ``pytest tests/app/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeRun, build_snapshots, until

from liminal_tui.app import create_app
from liminal_tui.profile import load_profile, shipped_profiles

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def steady_app(**kwargs):
    app = create_app(profile_dirs=[Path("profiles")], **kwargs)
    app.steady = True
    return app


@pytest.mark.parametrize("size", SIZES)
def test_profiles(snap_compare, workdir, size):
    assert snap_compare(steady_app(), terminal_size=size)


def test_profiles_invalid(snap_compare, workdir):
    assert snap_compare(steady_app(start_profile=Path("profiles/broken.toml")), terminal_size=(80, 24))


@pytest.mark.parametrize("size", SIZES)
def test_editor_with_error(snap_compare, workdir, size):
    async def run_before(pilot):
        await pilot.pause()
        screen = pilot.app.screen
        index = next(i for i, e in enumerate(screen.entries) if e.title == "mine")
        screen.query_one("OptionList").highlighted = screen.query_one("OptionList").get_option_index(f"entry-{index}")
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        users = pilot.app.screen.query_one("#field-load-users-input")
        users.value = "0"
        await pilot.pause()

    assert snap_compare(steady_app(), terminal_size=size, run_before=run_before)


def _dashboard_run(final: bool, model: str = "closed") -> tuple[FakeRun, object]:
    run = FakeRun(build_snapshots(6, model=model, saturated_at=5), report_dir=Path("reports/smoke-20260101-120000"))

    async def run_before(pilot):
        pilot.app.start_run(load_profile(shipped_profiles()["smoke"]))
        await run.started.wait()
        for i in range(6 if final else 5):
            run.publish(i)  # frames may be skipped; trends and events still get every tick
        if final:
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "SummaryScreen")
        else:
            await until(pilot, lambda: getattr(pilot.app.screen, "last", None) is run.snapshots[4])
        await pilot.pause()

    return run, run_before


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare, workdir, size):
    run, run_before = _dashboard_run(final=False)
    assert snap_compare(steady_app(run_factory=lambda p: run), terminal_size=size, run_before=run_before)


def test_dashboard_open_model_no_color(snap_compare, workdir, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    run, run_before = _dashboard_run(final=False, model="open")
    assert snap_compare(steady_app(run_factory=lambda p: run), terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_summary(snap_compare, workdir, size):
    run, run_before = _dashboard_run(final=True)
    assert snap_compare(steady_app(run_factory=lambda p: run), terminal_size=size, run_before=run_before)


def test_help(snap_compare, workdir):
    assert snap_compare(steady_app(), terminal_size=(120, 40), press=["f1"])


def test_dashboard_target_unreachable(snap_compare, workdir):
    """The reason stays in place of the panels; the footer offers only back and try again."""
    run = FakeRun(build_snapshots(2), fail="cannot reach http://127.0.0.1:9: connection refused (is the target running?)")

    async def run_before(pilot):
        pilot.app.start_run(load_profile(shipped_profiles()["smoke"]))
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)

    assert snap_compare(steady_app(run_factory=lambda p: run), terminal_size=(80, 24), run_before=run_before)


def test_start_dialog(snap_compare, workdir):
    async def run_before(pilot):
        await pilot.pause()
        screen = pilot.app.screen
        index = next(i for i, e in enumerate(screen.entries) if e.title == "mine")
        screen.query_one("OptionList").highlighted = screen.query_one("OptionList").get_option_index(f"entry-{index}")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()

    assert snap_compare(steady_app(), terminal_size=(80, 24), run_before=run_before)
