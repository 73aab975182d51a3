"""Before a run: change target, load and duration for this one run (as Locust's start form does), prefilled
from the profile; written to the profile only when asked.

The fields write a copy of the profile's TOML through the editor's own field code, so a value means here
what it means in the editor and on the command line, and saving keeps the file's comments.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from ...profile import Profile, ProfileDocument, ProfileError
from ...widgets.form_fields import FIELD_KEYS, read_field, write_field

__all__ = ["StartDialog", "StartChoice"]


class StartChoice:
    """What the dialog answers: the profile to run, and the file it was saved to (None: not saved)."""

    def __init__(self, profile: Profile, saved_to: Path | None) -> None:
        self.profile = profile
        self.saved_to = saved_to


class StartDialog(ModalScreen[StartChoice | None]):
    """Target, users (closed) or rate (open), spawn rate and duration; enter starts, escape cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="start.cancel", tooltip="Back to the profiles without a run"),
    ]

    def __init__(self, path: Path, read_only: bool) -> None:
        super().__init__(classes="dialog")
        self.path = path
        self.read_only = read_only
        """A shipped profile: the values apply to this run only (saving is offered for own profiles)."""
        self.doc = ProfileDocument.open(path)
        self.profile: Profile | None = None
        """The profile with the dialog's values, or None while they are not valid."""

    def _keys(self) -> list[str]:
        model = self.doc.get("load.model") or "closed"
        ramp = isinstance(self.doc.get("load.stages"), list) and bool(self.doc.get("load.stages"))
        keys = ["target"]
        if not ramp:  # a ramp's targets are its stages: changed in the editor
            keys += ["load.users", "load.spawn_rate"] if model == "closed" else ["load.rate"]
        return keys + ["duration"]

    def compose(self) -> ComposeResult:
        name = self.doc.get("name") or self.path.stem
        with Vertical(classes="dialog--box start--box"):
            yield Label(Text(f"Start a run of {name}"), classes="dialog--question")
            for key in self._keys():
                spec = FIELD_KEYS[key]
                with Horizontal(classes="start--row"):
                    yield Label(spec.label, classes="start--label")
                    yield Input(read_field(self.doc, spec), placeholder=spec.placeholder, id=f"start-{spec.widget_id}",
                                compact=True, tooltip=spec.help, select_on_focus=False)
            if isinstance(self.doc.get("load.stages"), list) and self.doc.get("load.stages"):
                yield Label("The load follows the profile's stages (edit them in the editor).", classes="dialog--hint")
            if self.read_only:
                yield Label("A shipped profile: these values are for this run only.", classes="dialog--hint")
            else:
                yield Checkbox("Also save these values to the profile", id="start-save", compact=True, value=False)
            yield Label("", id="start-problems", classes="dialog--hint")
            with Horizontal(classes="dialog--buttons"):
                yield Button(Text("Start (enter)"), id="start-go", variant="primary", compact=True)
                yield Button(Text("Cancel (esc)"), id="start-cancel", compact=True)

    def on_mount(self) -> None:
        if getattr(self.app, "steady", False):
            for widget in self.query(Input):
                widget.cursor_blink = False
        self._check()
        self.query(Input).first().focus()

    def _key_of(self, widget: Input) -> str:
        return next(key for key in self._keys() if widget.id == f"start-{FIELD_KEYS[key].widget_id}")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        problem = write_field(self.doc, FIELD_KEYS[self._key_of(event.input)], event.value)
        self._check(f"{FIELD_KEYS[self._key_of(event.input)].label}: {problem}" if problem else None)

    def _check(self, problem: str | None = None) -> None:
        problems = [problem] if problem else []
        try:
            self.profile = self.doc.validate()
        except ProfileError as exc:
            self.profile = None
            problems += list(exc.problems)
        self.query_one("#start-problems", Label).update(Text("\n".join(problems)))
        self.query_one("#start-go", Button).disabled = self.profile is None

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.start()

    @on(Button.Pressed, "#start-go")
    def _go(self) -> None:
        self.start()

    @on(Button.Pressed, "#start-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def start(self) -> None:
        """Dismiss with the profile to run; write it to its file first when the box is ticked."""
        if self.profile is None:
            return
        saved = None
        if any(box.value for box in self.query("#start-save").results(Checkbox)) and self.doc.dirty:
            try:
                saved = self.doc.save()
            except OSError as exc:
                self.notify(f"Not saved: {exc.strerror or exc}", title="Start", severity="error")
        self.dismiss(StartChoice(self.profile, saved))

    def action_cancel(self) -> None:
        self.dismiss(None)
