"""Small modal questions: a choice between a few answers, and a name for a new file."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from ..catalog import profile_file_name

__all__ = ["ChoiceDialog", "NameDialog", "YES_NO"]

YES_NO = (("yes", "Yes", "y"), ("no", "No", "n"))


class ChoiceDialog(ModalScreen[str | None]):
    """Ask ``question``; dismiss with the chosen answer's id, or None on escape.

    ``choices`` are (id, label, key): the key answers directly, no mouse needed.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel", tooltip="Close without answering")]

    def __init__(self, question: str, choices: tuple[tuple[str, str, str], ...] = YES_NO, default: str | None = None) -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.choices = choices
        self.default = default if default is not None else choices[-1][0]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog--box"):
            yield Label(Text(self.question), classes="dialog--question")
            with Horizontal(classes="dialog--buttons"):
                for cid, label, key in self.choices:
                    yield Button(f"{label} [{key}]", id=f"choice-{cid}", compact=True,
                                 variant="primary" if cid == self.default else "default")

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self.default}", Button).focus()

    def on_key(self, event: Key) -> None:
        for cid, _, key in self.choices:
            if event.character and event.character.lower() == key:
                event.stop()
                self.dismiss(cid)
                return

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NameDialog(ModalScreen[Path | None]):
    """Ask for a profile name; dismiss with ``folder/NAME.toml`` (never an existing file), or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel", tooltip="Close without saving")]

    def __init__(self, question: str, folder: Path, suggestion: str = "") -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.folder = folder
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog--box"):
            yield Label(Text(self.question), classes="dialog--question")
            yield Input(self.suggestion, placeholder="name", id="name-input")
            yield Label(Text(f"saved in {self.folder}/"), id="name-hint", classes="dialog--hint")
            yield Label("enter: save · escape: cancel", classes="dialog--hint")

    def on_mount(self) -> None:
        if getattr(self.app, "steady", False):
            self.query_one(Input).cursor_blink = False

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    def _check(self, name: str) -> Path | None:
        hint = self.query_one("#name-hint", Label)
        if not name.strip():
            hint.update("a name is needed")
            return None
        path = self.folder / profile_file_name(name)
        if path.exists():
            hint.update(Text(f"{path} exists: pick another name"))
            return None
        hint.update(Text(f"saved as {path}"))
        return path

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        path = self._check(event.value)
        if path is not None:
            self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
