"""The app's own settings (not a profile's): what the user picked in the app and expects back next time.

Kept in ``settings.toml`` under the user's config folder: ``$XDG_CONFIG_HOME/liminal-tui/`` when that is set
(tests point it at a temporary folder), else the platform's (``~/.config/liminal-tui/`` on Linux).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs
import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError

from ..profile.document import write_atomic

__all__ = ["AppSettings", "settings_path", "load_settings", "save_settings"]


class AppSettings(BaseModel):
    """Everything ``settings.toml`` holds."""

    model_config = ConfigDict(extra="ignore")

    theme: str | None = None
    """The theme picked in the command palette (``Change theme``); None: Textual's default."""


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME")
    folder = Path(base) / "liminal-tui" if base else Path(platformdirs.user_config_dir("liminal-tui"))
    return folder / "settings.toml"


def load_settings(path: Path | None = None) -> tuple[AppSettings, str | None]:
    """The settings, and a problem to tell the user (the file unreadable or not valid), or None.

    A missing file is no problem: every setting has its default."""
    path = path or settings_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return AppSettings.model_validate(data), None
    except FileNotFoundError:
        return AppSettings(), None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
        return AppSettings(), f"{path}: {str(exc).splitlines()[0]} (defaults used)"


def save_settings(settings: AppSettings, path: Path | None = None) -> str | None:
    """Write the settings; return a problem to tell the user, or None."""
    path = path or settings_path()
    try:
        write_atomic(path, tomli_w.dumps(settings.model_dump(exclude_none=True)))
    except OSError as exc:
        return f"cannot save settings to {path}: {exc.strerror or exc}"
    return None
