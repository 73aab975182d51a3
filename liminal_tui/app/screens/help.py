"""Every key of the screen underneath, with what it does and the id to remap it with."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """A table of ``bindings`` (taken from the screen the user was on when asking for help)."""

    BINDINGS = [
        Binding("escape,f1,question_mark,q", "close", "Close", id="help.close", tooltip="Close the help"),
    ]

    def __init__(self, title: str, bindings: dict[str, ActiveBinding], key_display) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.bindings = bindings
        self.key_display = key_display

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog--box help--box"):
            yield Label(Text(f"Keys: {self.title_text}"), classes="dialog--question")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Label("Remap a key by its id (App.set_keymap). escape: close", classes="dialog--hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "id", "what it does")
        seen: set[tuple[str, str]] = set()
        # The screen's and the app's named actions first, then the focused widget's navigation keys.
        ordered = sorted(self.bindings.values(), key=lambda a: a.binding.id is None)
        for active in ordered:
            binding = active.binding
            if binding.system or not binding.description:
                continue
            display = self.key_display(binding)
            if (display, binding.description) in seen:
                continue
            seen.add((display, binding.description))
            table.add_row(display, binding.description, binding.id or "", binding.tooltip)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
