"""The editor keeps and accepts the flow keys (setup, teardown, [[data]], [user_vars], when, form...)."""

from __future__ import annotations

import shutil
from pathlib import Path

from liminal_tui.app import create_app
from liminal_tui.widgets import ProfileForm

from test_editor_screen import open_editor, type_into

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "profiles" / "examples"


async def test_a_flow_profile_edits_in_the_form_and_keeps_its_flow_keys(workdir, monkeypatch):
    monkeypatch.setenv("SHOP_PASSWORD", "example")
    shutil.copy(EXAMPLES / "users.csv", workdir / "profiles" / "users.csv")
    text = (EXAMPLES / "data_feeder.toml").read_text().replace('name = "data-feeder"', 'name = "flowy"')
    (workdir / "profiles" / "flowy.toml").write_text(text)
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "flowy")
        assert not editor.problems, editor.problems  # the data file is found beside the profile
        form = editor.query_one(ProfileForm)
        await type_into(pilot, form.control("load.users"), "2")
        assert not editor.problems, editor.problems
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = (workdir / "profiles" / "flowy.toml").read_text()
    assert "users = 2\n" in saved
    for key in ("[[data]]", 'file = "users.csv"', "[[scenarios.setup]]", '"${creds.username}"',
                "# Credentials from a CSV file"):
        assert key in saved, key


async def test_the_toml_pane_names_a_missing_data_column(workdir):
    shutil.copy(EXAMPLES / "users.csv", workdir / "profiles" / "users.csv")
    text = (EXAMPLES / "data_feeder.toml").read_text().replace('name = "data-feeder"', 'name = "flowy"')
    (workdir / "profiles" / "flowy.toml").write_text(text)
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "flowy")
        area = editor.text_area
        area.focus()
        area.text = area.text.replace("${creds.password}", "${creds.secret}")
        await pilot.pause()
        assert any("has no column secret" in p for p in editor.problems), editor.problems


async def test_the_profiles_screen_shows_setup_and_data_files(workdir):
    from test_profiles_screen import highlight, preview_text

    shutil.copy(EXAMPLES / "users.csv", workdir / "profiles" / "users.csv")
    text = (EXAMPLES / "data_feeder.toml").read_text().replace('name = "data-feeder"', 'name = "flowy"')
    (workdir / "profiles" / "flowy.toml").write_text(text)
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await highlight(pilot, screen, "flowy")
        shown = preview_text(screen)
        assert "1 steps, setup 1, teardown 0" in shown
        assert "users.csv, per_user, stop_user" in shown and "pw1" not in shown
