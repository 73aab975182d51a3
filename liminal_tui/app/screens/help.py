"""Every key of the screen underneath and what it does, readable at 80 columns (descriptions wrap)."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """The keys of ``bindings`` (taken from the screen the user was on when asking for help)."""

    BINDINGS = [
        Binding("escape,f1,question_mark,q", "close", "Close", id="help.close", tooltip="Close the help"),
    ]

    def __init__(self, title: str, bindings: dict[str, ActiveBinding], key_display) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.bindings = bindings
        self.key_display = key_display
        self.rows: list[tuple[str, str, str]] = self._rows()
        """(key, action, what it does), as shown: the screen's and the app's actions first."""

    def _rows(self) -> list[tuple[str, str, str]]:
        rows = []
        seen: set[tuple[str, str]] = set()
        # The screen's and the app's named actions first, then the focused widget's navigation keys.
        ordered = sorted(self.bindings.values(), key=lambda a: a.binding.id is None)
        for active in ordered:
            binding = active.binding
            if binding.system or not binding.description or not active.enabled:
                continue
            display = self.key_display(binding)
            if (display, binding.description) in seen:
                continue
            seen.add((display, binding.description))
            rows.append((display, binding.description, binding.tooltip or ""))
        return rows

    def compose(self) -> ComposeResult:
        table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False)
        table.add_column("key", no_wrap=True, style="bold")
        table.add_column("action", no_wrap=True)
        table.add_column("what it does", ratio=1, overflow="fold")
        for row in self.rows:
            table.add_row(*(Text(cell) for cell in row))
        with Vertical(classes="dialog--box help--box"):
            yield Label(Text(f"Keys: {self.title_text}"), classes="dialog--question")
            with VerticalScroll(id="help-body"):
                yield Static(table, id="help-table")
            yield Label("escape: close · ctrl+p: the same actions, searchable", classes="dialog--hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
