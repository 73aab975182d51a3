"""Starting a run from the app: a small form for this run's target, load and duration (Locust's start form)."""

from __future__ import annotations

from pathlib import Path

from fakes import FakeRun, build_snapshots
from test_profiles_screen import highlight

from liminal_tui.app import create_app
from liminal_tui.app.screens import DashboardScreen, StartDialog


def recording_app():
    runs: list = []

    def factory(profile):
        runs.append(profile)
        return FakeRun(build_snapshots(2))

    return create_app(profile_dirs=[Path("profiles")], run_factory=factory), runs


async def open_dialog(pilot, title: str) -> StartDialog:
    await highlight(pilot, pilot.app.screen, title)
    await pilot.press("r")
    await pilot.pause()
    assert isinstance(pilot.app.screen, StartDialog)
    return pilot.app.screen


async def test_values_apply_to_this_run_only(workdir):
    app, runs = recording_app()
    before = (workdir / "profiles" / "mine.toml").read_text()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_dialog(pilot, "mine")
        users = dialog.query_one("#start-field-load-users")
        assert dialog.query_one("#start-field-target").value == "builtin" and users.value == "10"
        assert dialog.query_one("#start-field-duration").value == "1m"
        users.value = "3"
        dialog.query_one("#start-field-duration").value = "5s"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
    assert [(p.load.users, p.duration, p.name) for p in runs] == [(3, 5.0, "mine")]
    assert (workdir / "profiles" / "mine.toml").read_text() == before  # not asked to save: unchanged


async def test_saved_to_the_profile_when_asked(workdir):
    app, runs = recording_app()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_dialog(pilot, "mine")
        dialog.query_one("#start-field-load-spawn-rate").value = "4"
        dialog.query_one("#start-save").value = True
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
    text = (workdir / "profiles" / "mine.toml").read_text()
    assert "spawn_rate = 4\n" in text and "# Smoke: quick verification" in text  # comments kept
    assert runs[0].load.spawn_rate == 4


async def test_invalid_values_are_named_and_cannot_start(workdir):
    app, runs = recording_app()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_dialog(pilot, "mine")
        dialog.query_one("#start-field-load-users").value = "0"
        await pilot.pause()
        assert dialog.query_one("#start-go").disabled
        assert "load.users" in str(dialog.query_one("#start-problems").render())
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and runs == []
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, (StartDialog, DashboardScreen))


async def test_a_shipped_profile_is_never_written(workdir):
    app, runs = recording_app()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_dialog(pilot, "smoke")
        assert not dialog.query("#start-save")  # nothing to tick: for this run only
        await pilot.press("enter")
        await pilot.pause()
    assert runs and runs[0].name == "smoke"
