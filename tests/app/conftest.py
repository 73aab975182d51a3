"""Fixtures for the app tests: a profile folder in a temporary working directory, and helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from liminal_tui.profile import shipped_profiles

BROKEN = """# A profile with mistakes, to check the app lists it with its error.
name = "broken"
duration = "soon"

[load]
users = 0
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A working directory holding ``profiles/mine.toml`` (a copy of smoke) and ``profiles/broken.toml``."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    text = shipped_profiles()["smoke"].read_text().replace('name = "smoke"', 'name = "mine"')
    (profiles / "mine.toml").write_text(text)
    (profiles / "broken.toml").write_text(BROKEN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def config_home(tmp_path_factory, monkeypatch) -> Path:
    """The app's settings.toml goes to a temporary folder: tests never read nor write the user's."""
    folder = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder
