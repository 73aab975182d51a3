"""The Editor: form and TOML kept in step, validation next to each field, comments kept, unsaved guard."""

from __future__ import annotations

from pathlib import Path

from liminal_tui.app import create_app
from liminal_tui.app.screens import ChoiceDialog, EditorScreen, NameDialog, ProfilesScreen
from liminal_tui.app.screens.editor import toml_language
from liminal_tui.widgets import ProfileForm


async def open_editor(pilot, title: str) -> EditorScreen:
    screen = pilot.app.screen
    option_list = screen.query_one("OptionList")
    index = next(i for i, e in enumerate(screen.entries) if e.title == title)
    option_list.highlighted = option_list.get_option_index(f"entry-{index}")
    await pilot.pause()
    await pilot.press("e")
    await pilot.pause()
    assert isinstance(pilot.app.screen, EditorScreen)
    return pilot.app.screen


async def type_into(pilot, widget, text: str) -> None:
    """Type ``text`` key by key into an emptied input."""
    widget.focus()
    widget.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def set_value(pilot, widget, text: str) -> None:
    """Replace an input's text at once (posts the same Changed message as typing, fewer frames)."""
    widget.focus()
    widget.value = text
    await pilot.pause()


async def test_form_edit_changes_text_and_save_keeps_comments(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "mine")
        form = editor.query_one(ProfileForm)
        await type_into(pilot, form.control("load.users"), "50")
        assert "users = 50\n" in editor.text_area.text
        assert editor.doc.dirty and "modified" in str(editor.query_one("#editor-title").content)
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = (workdir / "profiles" / "mine.toml").read_text()
        assert "users = 50\n" in saved
        assert "# Smoke: quick verification" in saved
        assert '# the built-in demo target; or e.g. "http://localhost:8000"' in saved
        assert "# Hold a WebSocket, update a memory over HTTP" in saved
        assert not editor.doc.dirty
        await pilot.press("escape")  # saved: leaves without asking
        await pilot.pause()
        assert isinstance(app.screen, ProfilesScreen)


async def test_invalid_input_shows_error_next_to_field(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "mine")
        form = editor.query_one(ProfileForm)
        await set_value(pilot, form.control("load.users"), "0")
        assert "greater than or equal to 1" in form.errors_of("load.users")
        assert form.errors_of("duration") == ""
        assert any(p.startswith("load.users:") for p in editor.problems)
        status = str(editor.query_one("#editor-status").content)
        assert "1 problem" in status and "load.users" in status
        await set_value(pilot, form.control("duration"), "soon")
        assert "not a duration" in form.errors_of("duration")
        await set_value(pilot, form.control("load.users"), "5")
        await set_value(pilot, form.control("duration"), "30s")
        assert editor.problems == ()
        assert form.errors_of("load.users") == ""


async def test_text_edit_refreshes_form(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "mine")
        area = editor.text_area
        area.focus()
        area.text = area.text.replace("users = 10\n", "users = 77\n").replace('duration = "1m"', 'duration = "2m"')
        await pilot.pause()
        form = editor.query_one(ProfileForm)
        assert form.control("load.users").value == "77"
        assert form.control("duration").value == "2m"
        area.text = area.text.replace("[load]", "[load")  # broken TOML: the form waits, the error shows
        await pilot.pause()
        assert form.control("load.users").disabled
        assert any("TOML syntax error" in p for p in editor.problems)


async def test_unsaved_changes_are_confirmed(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "mine")
        await set_value(pilot, editor.query_one(ProfileForm).control("load.users"), "42")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("c")  # cancel: still editing, nothing lost
        await pilot.pause()
        assert app.screen is editor and editor.doc.dirty
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("d")  # discard
        await pilot.pause()
        assert isinstance(app.screen, ProfilesScreen)
        assert "users = 10\n" in (workdir / "profiles" / "mine.toml").read_text()


async def test_shipped_profile_saves_a_copy(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "smoke")
        assert editor.read_only
        await set_value(pilot, editor.query_one(ProfileForm).control("load.users"), "25")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, NameDialog)
        await pilot.press("enter")  # suggested name: smoke-copy
        await pilot.pause()
        copy = workdir / "profiles" / "smoke-copy.toml"
        from liminal_tui.profile import shipped_profiles
        assert "users = 10\n" in shipped_profiles()["smoke"].read_text()  # the shipped file is untouched
        assert "users = 25\n" in copy.read_text() and "# Smoke: quick verification" in copy.read_text()
        assert app.screen is editor and not editor.read_only and editor.doc.path == Path("profiles/smoke-copy.toml")


def test_toml_is_highlighted():
    """tree-sitter and its TOML grammar are dependencies (not textual[syntax]'s 15 grammars): TextArea
    highlights the profile's TOML."""
    assert toml_language() == "toml"


async def test_a_signal_keeps_unsaved_edits_beside_the_profile(workdir):
    """SIGTERM or a dropped session while editing: the edit is kept as NAME.toml.unsaved, the profile
    itself is untouched, and the app exits without asking."""
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "mine")
        await set_value(pilot, editor.query_one(ProfileForm).control("load.users"), "42")
        assert editor.doc.dirty
        app.stop_and_quit("SIGTERM")
        await pilot.pause()
    kept = workdir / "profiles" / "mine.toml.unsaved"
    assert "users = 42\n" in kept.read_text() and "# Smoke: quick verification" in kept.read_text()
    assert "users = 10\n" in (workdir / "profiles" / "mine.toml").read_text()
    assert app.interrupted_by == "SIGTERM" and app.return_code in (None, 0)
    # The next start says where the edit went.
    again = create_app(profile_dirs=[Path("profiles")])
    async with again.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        messages = [n.message for n in again._notifications]
        assert any("profiles/mine.toml.unsaved" in m for m in messages), messages


def disagreements(editor) -> list[str]:
    """Fields whose text is not what the TOML holds for their key."""
    from liminal_tui.widgets.form_fields import FIELDS, read_field

    form = editor.query_one(ProfileForm)
    out = []
    for spec in FIELDS:
        widget = form.control(spec.key)
        shown = widget.text if hasattr(widget, "text") else str(widget.value)
        if shown != read_field(editor.doc, spec):
            out.append(f"{spec.key}: form {shown!r}, TOML {read_field(editor.doc, spec)!r}")
    return out


async def test_form_and_toml_never_disagree_after_fast_typing(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "mine")
        form = editor.query_one(ProfileForm)
        assert app.focused is form.control("load.users")
        # Empty the users field, Tab on and type at once: no pause between the keys.
        await pilot.press("end", "backspace", "backspace", "tab", "7", "5")
        await pilot.pause()
        assert app.focused is form.control("load.spawn_rate")
        assert disagreements(editor) == []
        assert "users =" not in editor.text_area.text  # empty field: no key, the default (placeholder) applies
        assert form.control("load.users").placeholder == "default: 10"
        form.control("load.stages").focus()
        await pilot.press(*"30s:", "tab")  # half a stage: not TOML; once left, the field shows the TOML again
        await pilot.pause()
        assert disagreements(editor) == [] and not any("load.stages" in p for p in editor.problems)


async def test_broken_toml_blanks_the_form_and_saving_it_asks_first(workdir):
    app = create_app(profile_dirs=[Path("profiles")])
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, "mine")
        saved = (workdir / "profiles" / "mine.toml").read_text()
        area = editor.text_area
        area.focus()
        area.text = area.text.replace("[load]", "[load")
        await pilot.pause()
        form = editor.query_one(ProfileForm)
        for key in ("name", "target", "load.users", "load.spawn_rate"):
            control = form.control(key)
            assert control.disabled and control.value == "" and control.placeholder == "", key  # no stray examples
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog) and "syntax error" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert (workdir / "profiles" / "mine.toml").read_text() == saved and editor.doc.dirty
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert "[load\n" in (workdir / "profiles" / "mine.toml").read_text() and not editor.doc.dirty
