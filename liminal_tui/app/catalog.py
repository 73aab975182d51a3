"""The profiles the app offers: shipped ones, ``./profiles/`` and the user's own, each loaded or with its error.

No Textual here: the Profiles screen shows a :class:`ProfileEntry` list, and a broken file is an entry
with an ``error`` rather than an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..profile import Profile, ProfileError, load_profile, shipped_profiles

__all__ = [
    "ProfileEntry",
    "Origin",
    "default_profile_dirs",
    "discover",
    "display_dir",
    "new_profile_text",
    "profile_file_name",
]

Origin = Literal["shipped", "project", "user"]

USER_DIR = Path("~/.config/liminal-tui/profiles")


def default_profile_dirs() -> list[Path]:
    """``./profiles/`` (where new profiles are saved) and the user's config directory."""
    return [Path("profiles"), USER_DIR.expanduser()]


@dataclass(frozen=True)
class ProfileEntry:
    """One profile file as listed on the Profiles screen."""

    path: Path
    origin: Origin
    """``shipped`` (read-only, inside the package), ``project`` (the first profile dir) or ``user``."""
    folder: str
    """The folder as shown to the user (``shipped``, ``profiles/``, ``~/.config/...``)."""
    profile: Profile | None = None
    error: ProfileError | None = None

    @property
    def read_only(self) -> bool:
        return self.origin == "shipped"

    @property
    def title(self) -> str:
        return self.path.stem

    @property
    def ok(self) -> bool:
        return self.profile is not None


def display_dir(path: Path) -> str:
    """A folder as a user would write it: relative to the working directory or to ``~`` when possible."""
    resolved = path.expanduser().resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (Path.home().resolve(), "~/")):
        try:
            rel = resolved.relative_to(base)
        except ValueError:
            continue
        return f"{prefix}{rel}/" if str(rel) != "." else (prefix or "./")
    return f"{resolved}/"


def _entry(path: Path, origin: Origin, folder: str) -> ProfileEntry:
    try:
        return ProfileEntry(path, origin, folder, profile=load_profile(path))
    except ProfileError as exc:
        return ProfileEntry(path, origin, folder, error=exc)


def discover(dirs: list[Path], extra: list[Path] = ()) -> list[ProfileEntry]:
    """Shipped profiles, then each folder's ``*.toml``, then ``extra`` files; one entry per real file."""
    seen: set[Path] = set()
    entries: list[ProfileEntry] = []

    def add(path: Path, origin: Origin, folder: str) -> None:
        key = path.resolve()
        if key in seen:
            return
        seen.add(key)
        entries.append(_entry(path, origin, folder))

    for path in shipped_profiles().values():
        add(path, "shipped", "shipped")
    for i, folder in enumerate(dirs):
        folder = folder.expanduser()
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                add(path, "project" if i == 0 else "user", display_dir(folder))
    for path in extra:
        add(path, "project", display_dir(path.parent))
    return entries


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def profile_file_name(name: str) -> str:
    """``"My profile"`` -> ``"My-profile.toml"``: a file name that needs no quoting."""
    stem = _SAFE.sub("-", name.strip()).strip("-.") or "profile"
    return stem.removesuffix(".toml") + ".toml"


def new_profile_text(name: str) -> str:
    """A small, valid, commented profile to start from."""
    return f'''# {name}: describe what this profile checks.
name = "{name}"
description = ""
target = "builtin"          # a base URL such as "http://localhost:8000", or "builtin" for the demo target
duration = "1m"

[load]
model = "closed"            # closed: users loop over scenarios; open: a fixed rate of iterations/s
users = 10
spawn_rate = 2              # users started per second
think_time = "1s"

[thresholds]
http = ["p99 < 500ms", "error_rate < 1%"]

[[scenarios]]
name = "browse"
weight = 1

[[scenarios.steps]]
type = "http"
method = "GET"
path = "/api/memories"
check = {{ status = 200 }}
'''
