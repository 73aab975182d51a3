"""A profile being edited: the TOML text is the source, so the user's comments and layout survive.

The editor's form changes single keys with :meth:`ProfileDocument.set`; the text area replaces the whole
text with :meth:`ProfileDocument.set_text`. Both keep every comment that is not on a removed key.
"""

from __future__ import annotations

import os
import threading
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .loader import ProfileError, parse_profile
from .models import Profile

__all__ = ["ProfileDocument", "write_atomic"]


class ProfileDocument:
    """TOML text plus a parsed tomlkit document of it."""

    def __init__(self, text: str, path: Path | None = None) -> None:
        self.path = path
        self._text = text
        self._doc: tomlkit.TOMLDocument | None = None
        self.saved_text = text
        try:
            self._doc = tomlkit.parse(text)
        except TOMLKitError:
            self._doc = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "ProfileDocument":
        path = Path(path)
        return cls(path.read_text(encoding="utf-8"), path)

    @property
    def text(self) -> str:
        return self._text

    @property
    def dirty(self) -> bool:
        return self._text != self.saved_text

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "<new profile>"

    def set_text(self, text: str) -> None:
        self._text = text
        try:
            self._doc = tomlkit.parse(text)
        except TOMLKitError:
            self._doc = None

    def get(self, dotted: str, default: Any = None) -> Any:
        if self._doc is None:
            return default
        node: Any = self._doc
        for part in dotted.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
        return node.unwrap() if hasattr(node, "unwrap") else node

    def set(self, dotted: str, value: Any) -> None:
        """Set (or with ``None`` remove) one key, creating tables on the way; comments stay."""
        if self._doc is None:
            raise ProfileError(self.source, ["fix the TOML syntax before editing with the form"])
        parts = dotted.split(".")
        node: Any = self._doc
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[int(part)]
                continue
            if part not in node:
                if value is None:
                    return
                node[part] = tomlkit.table()
            node = node[part]
        last = parts[-1]
        if value is None:
            if last in node:
                del node[last]
        else:
            node[last] = value
        self._text = tomlkit.dumps(self._doc)

    def validate(self) -> Profile:
        """The profile, or :class:`ProfileError` naming each problem."""
        return parse_profile(self._text, source=self.source, base_dir=self.path.parent if self.path else None)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no path to save to")
        write_atomic(target, self._text)
        self.path = target
        self.saved_text = self._text
        return target


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells (Linux: /proc); elsewhere
    set and restored under a lock, the only way POSIX offers."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a file so that a reader sees the old content or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; a saved file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
