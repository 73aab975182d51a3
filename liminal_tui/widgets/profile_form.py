"""The editor's form for the common profile settings; each field shows its own problems under it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, TextArea

from .form_fields import FIELDS, FieldSpec

__all__ = ["ProfileForm"]


class ProfileForm(VerticalScroll):
    """Fields named by TOML key. The form never writes the document itself: it posts :class:`Edited`."""

    DEFAULT_CSS = """
    ProfileForm {
        padding: 0 1;
        & > .form--row { height: auto; }
        & .form--line { height: auto; }
        & .form--label { width: 11; padding-top: 0; text-style: bold; }
        & Input, & Select { width: 1fr; }
        & TextArea { width: 1fr; height: 4; }
        & .form--error { color: $text-error; display: none; padding-left: 11; width: 1fr; }
        & .-invalid .form--error { display: block; }
        & .-invalid .form--label { color: $text-error; }
        & .-unused .form--label { text-style: dim; }
    }
    """

    class Edited(Message):
        """The user changed the field for ``key``; ``text`` is what the field holds now."""

        def __init__(self, form: "ProfileForm", key: str, text: str) -> None:
            super().__init__()
            self.form = form
            self.key = key
            self.text = text

        @property
        def control(self) -> "ProfileForm":
            return self.form

    def compose(self) -> ComposeResult:
        for spec in FIELDS:
            with Vertical(id=spec.widget_id, classes="form--row"):
                with Horizontal(classes="form--line"):
                    yield Label(spec.label, classes="form--label")
                    yield self._control(spec)
                yield Label("", classes="form--error")

    def _control(self, spec: FieldSpec) -> Widget:
        wid = f"{spec.widget_id}-input"
        if spec.kind == "model":
            return Select([("closed", "closed"), ("open", "open")], allow_blank=False, value="closed",
                          compact=True, id=wid, tooltip=spec.help)
        if spec.kind == "thresholds":
            return TextArea("", compact=True, soft_wrap=True, id=wid, tooltip=spec.help,
                            placeholder=spec.placeholder, show_cursor=True)
        restrict = None if spec.kind in ("text", "stages", "duration") else r"[0-9._-]*"
        return Input(placeholder=spec.placeholder, compact=True, id=wid, tooltip=spec.help,
                     restrict=restrict, select_on_focus=False)

    def control(self, key: str) -> Widget:
        spec = next(s for s in FIELDS if s.key == key)
        return self.query_one(f"#{spec.widget_id}-input")

    def _key_of(self, widget: Widget) -> str | None:
        wid = widget.id or ""
        return next((s.key for s in FIELDS if wid == f"{s.widget_id}-input"), None)

    def load(self, values: dict[str, str], enabled: bool = True) -> None:
        """Show ``values`` (key -> text) without posting :class:`Edited`; a focused field keeps its text
        (the user is typing in it). ``enabled=False``: the TOML does not parse; every field is emptied."""
        with self.prevent(Input.Changed, Select.Changed, TextArea.Changed):
            for spec in FIELDS:
                widget = self.control(spec.key)
                widget.disabled = not enabled
                # While the TOML does not parse, the fields are empty and say nothing: no example that
                # could pass for a value.
                if isinstance(widget, (Input, TextArea)):
                    widget.placeholder = spec.placeholder if enabled else ""
                if widget.has_focus and enabled:
                    continue
                text = values.get(spec.key, "")
                if isinstance(widget, Input) and widget.value != text:
                    widget.value = text
                elif isinstance(widget, Select) and widget.value != text and text in ("closed", "open"):
                    widget.value = text
                elif isinstance(widget, TextArea) and widget.text != text:
                    widget.load_text(text)
        model = values.get("load.model", "closed")
        for key, used in (("load.users", model == "closed"), ("load.spawn_rate", model == "closed"),
                          ("load.think_time", model == "closed"), ("load.rate", model == "open")):
            self.query_one(f"#{next(s for s in FIELDS if s.key == key).widget_id}").set_class(not used, "-unused")

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        """Put each field's problems under it; fields not in ``errors`` are clear."""
        for spec in FIELDS:
            row = self.query_one(f"#{spec.widget_id}")
            messages = errors.get(spec.key, [])
            row.set_class(bool(messages), "-invalid")
            row.query_one(".form--error", Label).update(Text("\n".join(messages)))

    def errors_of(self, key: str) -> str:
        """The problems shown under the field for ``key`` (tests read this)."""
        spec = next(s for s in FIELDS if s.key == key)
        row = self.query_one(f"#{spec.widget_id}")
        return str(row.query_one(".form--error", Label).content) if row.has_class("-invalid") else ""

    def _edited(self, widget: Widget, text: str) -> None:
        key = self._key_of(widget)
        if key is not None:
            self.post_message(self.Edited(self, key, text))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._edited(event.input, event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._edited(event.select, str(event.value))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._edited(event.text_area, event.text_area.text)
