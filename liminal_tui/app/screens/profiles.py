"""The first screen: every profile the app can find, with a preview, and what to do with it."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from ...profile import ProfileDocument, ProfileError
from ...widgets import ProfilePreview
from ..catalog import ProfileEntry, discover, display_dir, new_profile_text
from .dialogs import ChoiceDialog, NameDialog

__all__ = ["ProfilesScreen"]


def copy_identity(doc: ProfileDocument, name: str, source: str) -> None:
    """A copy's own name, and a description that says what it was copied from (the original's
    description described the original). Raises ProfileError when the TOML does not parse."""
    old = doc.get("description") or ""
    doc.set("name", name)
    doc.set("description", f"Copy of {source}" + (f" ({old})" if old else "") + ": describe what changed.")


class ProfilesScreen(Screen):
    """Lists :func:`discover`'s entries grouped by folder; the highlighted one is previewed."""

    BINDINGS = [
        Binding("r", "run", "Run", id="profiles.run", tooltip="Run the highlighted profile and watch it live"),
        Binding("e", "edit", "Edit", id="profiles.edit", tooltip="Edit the highlighted profile (shipped ones: save a copy)"),
        Binding("d", "duplicate", "Duplicate", id="profiles.duplicate", tooltip="Copy the highlighted profile under a new name"),
        Binding("h", "history", "History", id="profiles.history", tooltip="Past runs of the highlighted profile, and comparisons"),
        Binding("n", "new", "New", id="profiles.new", tooltip="Start a new profile from a small template"),
        Binding("delete,x", "delete", "Delete", key_display="del", id="profiles.delete", tooltip="Delete the highlighted profile file (asks first)"),
        Binding("f5", "reload", "Reload", show=False, id="profiles.reload", tooltip="Read the profile folders again"),
        Binding("q", "app.quit", "Quit", id="profiles.quit", tooltip="Quit liminal-tui"),
    ]

    def __init__(self, dirs: list[Path], start_profile: Path | None = None) -> None:
        super().__init__()
        self.dirs = dirs
        self.extra = [start_profile] if start_profile else []
        self._select = start_profile
        self.entries: list[ProfileEntry] = []

    @property
    def save_dir(self) -> Path:
        """Where new, copied and saved-as profiles go: the first profile folder (``./profiles/``)."""
        return self.dirs[0] if self.dirs else Path("profiles")

    def compose(self) -> ComposeResult:
        with Horizontal(id="profiles-body"):
            with Vertical(id="profiles-side"):
                yield Label("Profiles", id="profiles-heading")
                yield OptionList(id="profile-list")
            yield ProfilePreview(id="profile-preview")
        yield Footer()

    def on_mount(self) -> None:
        if not self.query(OptionList):  # a SIGTERM at start (a browser tab closed at once): the app is ending
            return
        self.reload(self._select)
        kept = [display_dir(path.parent) + path.name for folder in self.dirs if folder.expanduser().is_dir()
                for path in sorted(folder.expanduser().glob("*.toml.unsaved"))]
        if kept:  # written when a signal ended the app during an edit (LiminalApp.keep_unsaved_edits)
            self.notify(f"Unsaved edits were kept when the app last ended: {', '.join(kept)}. Rename one to "
                        f"*.toml to list it here.", title="Unsaved edits", timeout=20)

    def on_screen_resume(self) -> None:
        if self.entries:  # back from the editor or a run: files may have changed
            self.reload(self.current.path if self.current else None)

    # ------------------------------------------------------------ list

    def reload(self, select: Path | None = None) -> None:
        self.entries = discover(self.dirs, self.extra)
        options: list[Option | None] = []
        folder = None
        highlight = None
        for i, entry in enumerate(self.entries):
            if entry.folder != folder:
                folder = entry.folder
                heading = "shipped (read-only)" if entry.read_only else folder
                options.append(Option(Text(heading, style="bold"), id=f"folder-{i}", disabled=True))
            label = Text(f"  {entry.title}")
            if not entry.ok:
                label.append("  invalid", style="bold")
            options.append(Option(label, id=f"entry-{i}"))
            if select is not None and entry.path.resolve() == select.resolve():
                highlight = f"entry-{i}"
        option_list = self.query_one(OptionList)
        option_list.set_options(options)
        if highlight is None and self.entries:
            highlight = "entry-0"
        if highlight is not None:
            option_list.highlighted = option_list.get_option_index(highlight)
        option_list.focus()
        self._preview()

    @property
    def current(self) -> ProfileEntry | None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is None:
            return None
        option = option_list.get_option_at_index(option_list.highlighted)
        if option.id and option.id.startswith("entry-"):
            return self.entries[int(option.id.removeprefix("entry-"))]
        return None

    def _preview(self) -> None:
        entry = self.current
        preview = self.query_one(ProfilePreview)
        if entry is None:
            preview.show("no profile", "", None, "No profiles found: press n to create one.")
            return
        where = "shipped with liminal-tui (read-only)" if entry.read_only else str(entry.path)
        error = None
        if entry.error is not None:
            error = "This profile cannot be used:\n" + "\n".join(f"- {p}" for p in entry.error.problems)
        preview.show(entry.profile.name if entry.profile else entry.title, where, entry.profile, error)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self) -> None:
        self._preview()

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_edit()

    # ------------------------------------------------------------ actions

    @work(group="start")
    async def action_run(self) -> None:
        """Ask for this run's target, load and duration (prefilled from the profile), then run."""
        from .start import StartDialog

        entry = self.current
        if entry is None:
            return
        if entry.profile is None:
            self.notify("Fix this profile before running it (e: edit).", title="Invalid profile", severity="error")
            return
        choice = await self.app.push_screen_wait(StartDialog(entry.path, read_only=entry.read_only))
        if choice is None:
            return
        if choice.saved_to is not None:
            self.notify(f"Saved to {choice.saved_to}", title="Profile updated")
        self.app.start_run(choice.profile)

    def action_history(self) -> None:
        from .history import HistoryScreen

        entry = self.current
        if entry is None:
            return
        name = entry.profile.name if entry.profile is not None else entry.title
        self.app.push_screen(HistoryScreen(name, self.app.reports_dir))

    def action_edit(self) -> None:
        entry = self.current
        if entry is not None:
            self.app.open_editor(ProfileDocument.open(entry.path), read_only=entry.read_only, save_dir=self.save_dir)

    @work
    async def action_duplicate(self) -> None:
        entry = self.current
        if entry is None:
            return
        path = await self.app.push_screen_wait(
            NameDialog(f"Copy {entry.title} as", self.save_dir, f"{entry.title}-copy")
        )
        if path is None:
            return
        doc = ProfileDocument.open(entry.path)
        note = ""
        try:
            copy_identity(doc, path.stem, entry.title)
        except ProfileError:  # broken TOML: copied as it is, to be fixed in the editor
            note = " as it is (its TOML does not parse)"
        doc.save(path)
        self.notify(f"Copied to {path}{note}", title="Duplicated")
        self.reload(path)

    @work
    async def action_new(self) -> None:
        path = await self.app.push_screen_wait(NameDialog("New profile name", self.save_dir, "my-profile"))
        if path is None:
            return
        doc = ProfileDocument(new_profile_text(path.stem), path)
        doc.save(path)
        self.reload(path)
        self.app.open_editor(doc, read_only=False, save_dir=self.save_dir)

    @work
    async def action_delete(self) -> None:
        entry = self.current
        if entry is None:
            return
        if entry.read_only:
            self.notify("Shipped profiles cannot be deleted.", severity="warning")
            return
        answer = await self.app.push_screen_wait(ChoiceDialog(f"Delete {entry.path}?", default="no"))
        if answer != "yes":
            return
        entry.path.unlink(missing_ok=True)
        self.notify(f"Deleted {entry.path}", title="Deleted")
        self.reload()

    def action_reload(self) -> None:
        self.reload(self.current.path if self.current else None)
