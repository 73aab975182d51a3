"""The app itself stays thin: it knows the profile folders, opens screens and guards quitting."""

from __future__ import annotations

import asyncio
import os
import signal
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ..live import LiveRun
from ..metrics.events import StopCause, StopReason
from ..profile import Profile, ProfileDocument
from ..profile.document import write_atomic
from .feed import default_run_factory
from .settings import AppSettings, load_settings, save_settings
from .screens import ChoiceDialog, DashboardScreen, EditorScreen, HelpScreen, ProfilesScreen

__all__ = ["LiminalApp"]

NICE_INCREMENT = 10
"""How far the app lowers its own priority once worker processes run."""
_QUIT_SIGNALS = tuple(sig for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig is not None)


class LiminalApp(App[None]):
    """liminal-tui: pick a profile, edit it, run it and watch it live."""

    CSS_PATH = "app.tcss"
    TITLE = "liminal-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    """Screens get ``-narrow`` below 110 columns: panels stack instead of sitting side by side."""

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False,
                tooltip="Quit (asks first while a run is active)"),
        Binding("f1", "help", "Help", id="app.help", tooltip="Show every key of this screen"),
        Binding("question_mark", "help", "Help", show=False, id="app.help_alt", tooltip="Show every key of this screen"),
    ]

    def __init__(
        self,
        profile_dirs: list[Path],
        start_profile: Path | None = None,
        run_factory: Callable[[Profile], LiveRun] | None = None,
    ) -> None:
        super().__init__()
        self.profile_dirs = profile_dirs
        """Folders searched for profiles; the first (``./profiles/``) is where new ones are saved."""
        self.start_profile = start_profile
        """A profile file to highlight on start (it is listed even outside the folders)."""
        self.run_factory = run_factory or default_run_factory
        """``profile -> Run``; tests pass one that runs the engine in-process."""
        self.active_run: LiveRun | None = None
        """The run the dashboard drives, from start until its final snapshot; None otherwise."""
        self.quit_requested = False
        """The user chose to quit during a run: the dashboard exits once the run has ended."""
        self.frame_interval = 0.25
        """Fewest seconds between two dashboard updates (the bus ticks once a second)."""
        self.steady = False
        """No cursor blink (snapshot tests set it, so screenshots are the same every time)."""
        self.reports_dir = Path("reports")
        """Where runs' reports are: the History screen lists them."""
        self.interrupted_by: str | None = None
        """The signal that ended the app (SIGTERM, or SIGHUP when the SSH session or terminal went away)."""
        self.niced = False
        """This process's priority was lowered (see :meth:`yield_cpu_to_workers`)."""
        self._stopping: asyncio.Future[None] | None = None
        self.settings, self._settings_problem = load_settings()
        """What the user picked in the app before (the theme), from ``settings.toml``."""
        self._remember_theme = False
        """Set once mounted: a theme set from then on is the user's choice, written to ``settings.toml``."""
        if self.settings.theme and self.settings.theme in self.available_themes:
            self.theme = self.settings.theme

    def watch_theme(self, theme: str) -> None:
        """Remember a theme picked in the command palette for the next start."""
        if not getattr(self, "_remember_theme", False) or theme == self.settings.theme:  # (set in __init__ after super())
            return  # the start-up theme is not a choice
        self.settings = AppSettings(**{**self.settings.model_dump(), "theme": theme})
        problem = save_settings(self.settings)
        if problem:
            self.notify(problem, title="Settings", severity="warning")

    def on_mount(self) -> None:
        self._remember_theme = True
        if self._settings_problem:
            self.notify(self._settings_problem, title="Settings", severity="warning", timeout=10)
        # A dropped SSH session (SIGHUP) or a SIGTERM must not lose the run: stop it, write its report, exit.
        loop = asyncio.get_running_loop()
        for sig in _QUIT_SIGNALS:
            try:
                loop.add_signal_handler(sig, self.stop_and_quit, sig.name)
            except (NotImplementedError, RuntimeError, ValueError):  # no signals here (not the main thread)
                pass

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in _QUIT_SIGNALS:
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def stop_and_quit(self, reason: str) -> None:
        """Stop the active run gracefully, let the dashboard write its report, then exit (no questions)."""
        self.interrupted_by = self.interrupted_by or reason
        self.keep_unsaved_edits()
        run = self.active_run
        if run is None:
            self.leave()
            return
        self.quit_requested = True  # the dashboard calls leave() after the report is written
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                screen.phase = "stopping"
        self._stopping = asyncio.ensure_future(run.stop(StopReason(StopCause.INTERRUPTED, reason)))
        self.set_timer(30.0, self.leave)  # never hang on a run that does not end

    def yield_cpu_to_workers(self) -> None:
        """Once the workers (and the demo target) have started, lower this process's priority, so that
        drawing never takes CPU the engine needs (measured: the app's 8 % of a core cost ~6 % of req/s on
        2 cores). Children started before keep their priority. Once: nice only goes up."""
        if self.niced:
            return
        self.niced = True
        try:
            os.nice(NICE_INCREMENT)
        except (AttributeError, OSError):  # no os.nice here, or not allowed: drawing just competes
            pass

    def keep_unsaved_edits(self) -> list[Path]:
        """Unsaved editor text goes beside its profile as ``NAME.toml.unsaved`` (in the save folder for a
        shipped or new profile): a dropped session loses no edit. Returns the files written."""
        kept = []
        for screen in self.screen_stack:
            if isinstance(screen, EditorScreen) and screen.doc.dirty:
                path = screen.doc.path
                if path is None or screen.read_only:
                    path = screen.save_dir / (path.name if path else "new-profile.toml")
                target = path.with_name(path.name + ".unsaved")
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(target, screen.doc.text)
                except OSError:
                    continue  # nowhere to write: nothing more can be done on the way out
                kept.append(target)
        return kept

    def leave(self) -> None:
        """Exit. After a hang-up there is no terminal to restore: Textual's teardown would block on
        writing to it (its writer thread dies on the first failed write, and the queue fills), so the
        process ends at once, its report already written, its workers and demo target already gone."""
        if self.interrupted_by == "SIGHUP":
            os._exit(130)
        self.exit()

    def get_default_screen(self) -> Screen:
        return ProfilesScreen(self.profile_dirs, self.start_profile)

    # ------------------------------------------------------------ navigation

    def start_run(self, profile: Profile) -> DashboardScreen:
        """Open the dashboard on a new run of ``profile``; the dashboard starts it."""
        screen = DashboardScreen(profile, self.run_factory(profile), min_interval=self.frame_interval)
        self.push_screen(screen)
        return screen

    def open_editor(self, doc: ProfileDocument, read_only: bool, save_dir: Path) -> EditorScreen:
        screen = EditorScreen(doc, read_only=read_only, save_dir=save_dir)
        self.push_screen(screen)
        return screen

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        title = type(self.screen).__name__.removesuffix("Screen")
        self.push_screen(HelpScreen(title, self.screen.active_bindings, self.get_key_display))

    async def action_quit(self) -> None:
        if self.active_run is None:
            self.exit()
            return

        def answered(answer: str | None) -> None:
            if answer == "yes" and self.active_run is not None:
                self.quit_requested = True  # the dashboard exits after the report is written
                self.active_run.abort()
                self.set_timer(15.0, self.exit)  # never hang on a run that does not end

        self.push_screen(ChoiceDialog("A run is active. Abort it and quit?", default="no"), answered)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The screen's own actions first (the same as its keys), then Textual's."""
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.system or not binding.description or active.node is self or not active.enabled:
                continue
            if binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.get_key_display(binding)
            yield SystemCommand(
                f"{binding.description} ({key})", binding.tooltip or binding.description,
                partial(self.run_action, binding.action, active.node),
            )
        yield SystemCommand("Help", "Show every key of this screen (F1)", self.action_help)
        yield from super().get_system_commands(screen)
