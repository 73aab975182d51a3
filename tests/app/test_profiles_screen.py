"""The Profiles screen: every profile listed (broken ones with their error), duplicate, new, delete."""

from __future__ import annotations

from pathlib import Path

from fakes import plain

from liminal_tui.app import create_app
from liminal_tui.app.screens import ChoiceDialog, EditorScreen, NameDialog, ProfilesScreen
from liminal_tui.widgets import ProfilePreview


def titles(screen: ProfilesScreen) -> list[str]:
    return [e.title for e in screen.entries]


async def highlight(pilot, screen: ProfilesScreen, title: str) -> None:
    await pilot.press("down")  # the list is driven by keys...
    option_list = screen.query_one("OptionList")  # ...but walking it key by key is slow in a test
    index = next(i for i, e in enumerate(screen.entries) if e.title == title)
    option_list.highlighted = option_list.get_option_index(f"entry-{index}")
    await pilot.pause()
    assert screen.current.title == title


def preview_text(screen) -> str:
    preview = screen.query_one(ProfilePreview)
    return "\n".join(plain(w.content) for w in preview.query("Static") if w.display)


async def test_lists_shipped_and_own_profiles_with_errors(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ProfilesScreen)
        assert titles(screen) == ["load", "smoke", "soak", "stress", "broken", "mine"]
        assert preview_text(screen).count("ramp to 100 users in 10s") == 1
        await highlight(pilot, screen, "broken")
        text = preview_text(screen)
        assert "cannot be used" in text and "duration: 'soon' is not a duration" in text
        assert "load.users: Input should be greater than or equal to 1" in text
        await pilot.press("r")  # running a broken profile is refused, nothing crashes
        await pilot.pause()
        assert app.screen is screen


async def test_duplicate_keeps_comments(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        await highlight(pilot, app.screen, "smoke")
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, NameDialog)
        app.screen.query_one("Input").value = "fast"
        await pilot.press("enter")
        await pilot.pause()
        copy = workdir / "profiles" / "fast.toml"
        assert copy.exists()
        text = copy.read_text()
        assert 'name = "fast"' in text and "# Smoke: quick verification" in text
        assert app.screen.current.path.name == "fast.toml"
        # The copy does not pass for the original: its description says where it came from.
        description = app.screen.current.profile.description
        assert description.startswith("Copy of smoke (Quick verification") and "describe what changed" in description


async def test_new_opens_editor(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("Input").value = "brand new"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EditorScreen)
        assert (workdir / "profiles" / "brand-new.toml").exists()
        assert app.screen.problems == ()


async def test_delete_asks_first(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await highlight(pilot, screen, "mine")
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("n")
        await pilot.pause()
        assert (workdir / "profiles" / "mine.toml").exists()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not (workdir / "profiles" / "mine.toml").exists()
        assert "mine" not in titles(screen)
        await highlight(pilot, screen, "smoke")
        await pilot.press("x")  # shipped: refused without a question
        await pilot.pause()
        assert app.screen is screen


async def test_duplicating_a_broken_profile_copies_it_as_it_is(workdir):
    (workdir / "profiles" / "syntax.toml").write_text("name = 'syntax'\n[load\n")
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await highlight(pilot, app.screen, "syntax")
        await pilot.press("d")
        await pilot.pause()
        app.screen.query_one("Input").value = "syntax2"
        await pilot.press("enter")
        await pilot.pause()
        assert (workdir / "profiles" / "syntax2.toml").read_text() == "name = 'syntax'\n[load\n"
        assert any("as it is" in n.message for n in app._notifications)


async def test_help_and_command_palette_list_actions(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Run (r)", "Edit (e)", "Duplicate (d)", "New (n)", "Delete (del)", "Help"} <= set(commands)
        app.call_later(commands["Duplicate (d)"].callback)  # as the palette does: the same action as the key
        await pilot.pause()
        assert isinstance(app.screen, NameDialog)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        actions = {action for _, action, _ in app.screen.rows}
        assert {"Run", "Edit", "Delete", "Help"} <= actions
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ProfilesScreen)
        app.set_keymap({"profiles.run": "g"})  # named bindings can be remapped
        await pilot.pause()
        assert any(b.binding.key == "g" and b.binding.id == "profiles.run" for b in app.screen.active_bindings.values())


async def test_help_is_readable_at_80_columns(workdir):
    """Whole descriptions (wrapped, not cut), no internal ids, and no hint about App.set_keymap."""
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        text = " ".join(" ".join(str(line.text) for line in help_screen.query_one("#help-table").render_lines(
            help_screen.query_one("#help-table").region.reset_offset)).split())
        hint = "Delete the highlighted profile file (asks first)"
        assert hint in text, text
        assert "profiles.delete" not in text and "set_keymap" not in " ".join(
            str(label.render()) for label in help_screen.query("Label"))
