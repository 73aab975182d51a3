"""The Textual front end. One factory builds the app for the CLI and for the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..live import LiveRun
from ..profile import Profile
from .app import LiminalApp
from .catalog import default_profile_dirs

__all__ = ["LiminalApp", "create_app"]


def create_app(
    profile_dirs: list[Path] | None = None,
    start_profile: Path | None = None,
    run_factory: Callable[[Profile], LiveRun] | None = None,
) -> LiminalApp:
    """The app, reading profiles from ``profile_dirs`` (default ``./profiles/`` and
    ``~/.config/liminal-tui/profiles/``) besides the shipped ones.

    ``run_factory(profile)`` makes the run the dashboard drives (a :class:`~liminal_tui.live.LiveRun`);
    the default is a :class:`~liminal_tui.session.Session` with one worker process. Tests pass one
    that runs the engine in-process, or a stand-in that implements the same protocol.
    """
    dirs = list(profile_dirs) if profile_dirs is not None else default_profile_dirs()
    return LiminalApp(dirs, start_profile, run_factory)
