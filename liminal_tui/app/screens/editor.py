"""Edit a profile two ways at once: a form for the common settings and the whole TOML text.

Both write one :class:`ProfileDocument`; each change re-validates with the profile models and puts every
problem next to its field and in the status area. The user's comments survive (tomlkit keeps them).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Label, Static, TextArea

from ...profile import ProfileDocument, ProfileError
from ...widgets import ProfileForm
from ...widgets.form_fields import FIELD_KEYS, FIELDS, problems_by_field, read_field, write_field
from .dialogs import ChoiceDialog, NameDialog

__all__ = ["EditorScreen", "toml_language"]


def toml_language() -> str | None:
    """``"toml"`` when TextArea can highlight it (tree-sitter installed), else None: plain text."""
    try:
        from textual._tree_sitter import TREE_SITTER, get_language
    except ImportError:
        return None
    return "toml" if TREE_SITTER and get_language("toml") is not None else None


class EditorScreen(Screen[None]):
    """Form on the left, TOML on the right, problems at the bottom."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="editor.save", tooltip="Write the profile (a shipped one: save a copy)"),
        Binding("f2", "switch", "Form/TOML", id="editor.switch", tooltip="Move between the form and the TOML text"),
        Binding("escape", "close", "Back", id="editor.close", tooltip="Back to the profiles (asks when unsaved)"),
    ]

    problems: reactive[tuple[str, ...]] = reactive(())
    """Every problem of the text as it stands: validation problems, then form input the TOML cannot hold."""

    def __init__(self, doc: ProfileDocument, read_only: bool, save_dir: Path) -> None:
        super().__init__()
        self.doc = doc
        self.read_only = read_only
        """A shipped profile: saving asks for a new name in ``save_dir``."""
        self.save_dir = save_dir
        self._input_errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Label(id="editor-title")
        with Horizontal(id="editor-body"):
            yield ProfileForm(id="editor-form")
            yield TextArea(
                self.doc.text, language=toml_language(), id="editor-text", soft_wrap=False,
                show_line_numbers=True, tab_behavior="indent",
            )
        yield Static(id="editor-status")
        yield Footer()

    def on_mount(self) -> None:
        if getattr(self.app, "steady", False):
            for widget in self.query("Input, TextArea"):
                widget.cursor_blink = False
        self._refresh_form()
        self._validate()
        self.query_one(ProfileForm).control("load.users").focus()

    # ------------------------------------------------------------ keeping form, text and problems in step

    @property
    def text_area(self) -> TextArea:
        return self.query_one("#editor-text", TextArea)

    @property
    def form(self) -> ProfileForm:
        return self.query_one(ProfileForm)

    def _refresh_form(self) -> None:
        parses = self.syntax_error() is None
        values = {spec.key: read_field(self.doc, spec) for spec in FIELDS} if parses else {}
        self.form.load(values, enabled=parses)

    def syntax_error(self) -> str | None:
        """Why the text is not TOML, or None. The form edits TOML keys, so it waits while it is not."""
        try:
            tomllib.loads(self.doc.text)
        except tomllib.TOMLDecodeError as exc:
            return str(exc)
        return None

    def on_descendant_blur(self, event) -> None:
        """A field the user leaves shows what the TOML holds: input the TOML could not take (half a stage)
        is dropped there, so the two panes never disagree once the typing is done."""
        key = self.form._key_of(event.widget) if self.is_mounted else None
        if key is None:
            return
        if self._input_errors.pop(key, None) is not None:
            self._validate()
        self._refresh_form()

    @on(ProfileForm.Edited)
    def _form_edited(self, event: ProfileForm.Edited) -> None:
        try:
            problem = write_field(self.doc, FIELD_KEYS[event.key], event.text)
        except ProfileError as exc:
            problem = exc.problems[0]
        if problem:
            self._input_errors[event.key] = problem
        else:
            self._input_errors.pop(event.key, None)
        if self.text_area.text != self.doc.text:
            with self.text_area.prevent(TextArea.Changed):
                self.text_area.load_text(self.doc.text)
        if event.key == "load.model":
            self._refresh_form()
        self._validate()

    @on(TextArea.Changed, "#editor-text")
    def _text_edited(self, event: TextArea.Changed) -> None:
        if event.text_area.text == self.doc.text:
            return
        self.doc.set_text(event.text_area.text)
        self._input_errors.clear()
        self._validate()
        self._refresh_form()

    def _validate(self) -> None:
        try:
            self.doc.validate()
            problems: list[str] = []
        except ProfileError as exc:
            problems = list(exc.problems)
        problems += [f"{key}: {msg}" for key, msg in self._input_errors.items()]
        self.problems = tuple(problems)
        self._title()  # "modified" may change while the problems stay the same

    def watch_problems(self, problems: tuple[str, ...]) -> None:
        by_field = problems_by_field(list(problems))
        self.form.show_errors(by_field)
        status = self.query_one("#editor-status", Static)
        status.set_class(bool(problems), "-invalid")
        if problems:
            lines = [f"{len(problems)} problem{'s' if len(problems) > 1 else ''}:"] + [f"- {p}" for p in problems]
            status.update(Text("\n".join(lines)))
        else:
            status.update(Text("valid profile"))
        self._title()

    def _title(self) -> None:
        name = self.doc.path.name if self.doc.path else "new profile"
        parts = [f"Editing {name}"]
        if self.read_only:
            parts.append("shipped, read-only: ctrl+s saves a copy")
        if self.doc.dirty:
            parts.append("modified")
        self.query_one("#editor-title", Label).update(Text(" · ".join(parts)))

    # ------------------------------------------------------------ actions

    def action_switch(self) -> None:
        if self.text_area.has_focus:
            self.form.control("name").focus()
        else:
            self.text_area.focus()

    @work(exclusive=True, group="editor-save")
    async def action_save(self) -> None:
        await self.save()

    async def save(self) -> bool:
        """Save (asking for a name when read-only or new, and first whether to, when the text is not
        TOML); return True when written."""
        error = self.syntax_error()
        if error is not None:
            answer = await self.app.push_screen_wait(ChoiceDialog(
                f"The TOML has a syntax error ({error}). The profile cannot be loaded until it is fixed. Save anyway?",
                default="no",
            ))
            if answer != "yes":
                return False
        path = self.doc.path
        if self.read_only or path is None:
            stem = self.doc.path.stem if self.doc.path else "profile"
            path = await self.app.push_screen_wait(NameDialog("Save a copy as", self.save_dir, f"{stem}-copy"))
            if path is None:
                return False
        self.doc.save(path)
        self.read_only = False
        self._title()
        note = f" with {len(self.problems)} problem(s)" if self.problems else ""
        self.notify(f"Saved {path}{note}", title="Saved", severity="warning" if note else "information")
        return True

    @work(exclusive=True, group="editor-close")
    async def action_close(self) -> None:
        if self.doc.dirty:
            answer = await self.app.push_screen_wait(ChoiceDialog(
                "This profile has unsaved changes.",
                (("save", "Save", "s"), ("discard", "Discard", "d"), ("cancel", "Cancel", "c")),
                default="cancel",
            ))
            if answer == "save":
                if not await self.save():
                    return
            elif answer != "discard":
                return
        self.dismiss(None)
