"""``extract``: take values from a response into the user's variables.

Sources: ``json:a.b.0`` (a JSON path; ``items[*].id`` gives the list of every item's id), ``header:NAME``,
``status``, ``regex:PATTERN`` on the body (group 1, else the whole match), ``cookie:NAME`` (the user's
jar, after this response's ``Set-Cookie``), each optionally followed by ``|regex:PATTERN`` applied to the
value as text (``header:Location|regex:ticket=([^&]+)``). A JSON object or list is kept as it is.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .jsonpath import MISSING, json_path
from ..profile.template_funcs import to_text

__all__ = ["Extractor", "compile_extract"]

Problem = str
"""What went wrong, for the step's failure message."""


class Extractor:
    """One ``name = "source"`` of a step, compiled."""

    __slots__ = ("var", "source", "kind", "arg", "then", "get")

    def __init__(self, var: str, source: str) -> None:
        first, *rest = source.split("|")
        self.var, self.source = var, source
        self.kind, _, self.arg = first.partition(":")
        self.then = [re.compile(p.partition(":")[2]) for p in rest]
        self.get: Callable[..., Any] = getattr(self, "_" + self.kind)
        if self.kind == "regex":
            self.arg = re.compile(self.arg.encode())  # type: ignore[assignment]

    def __call__(self, doc: Any, body: bytes, headers: Any, status: int, user: Any, url: str) -> Problem | None:
        value = self.get(doc, body, headers, status, user, url)
        if isinstance(value, tuple):  # (problem,)
            return f"extract {self.var}: {value[0]}"
        for pattern in self.then:
            match = pattern.search(to_text(value))
            if not match:
                return f"extract {self.var}: regex {pattern.pattern!r} did not match"
            value = match.group(1) if match.groups() else match.group(0)
        user.vars[self.var] = value
        return None

    def _json(self, doc: Any, body: bytes, headers: Any, status: int, user: Any, url: str) -> Any:
        value = json_path(doc, self.arg)
        return (f"JSON field '{self.arg}' missing",) if value is MISSING else value

    def _header(self, doc: Any, body: bytes, headers: Any, status: int, user: Any, url: str) -> Any:
        value = headers.get(self.arg)
        return (f"header '{self.arg}' missing",) if value is None else value

    def _status(self, doc: Any, body: bytes, headers: Any, status: int, user: Any, url: str) -> Any:
        return status

    def _regex(self, doc: Any, body: bytes, headers: Any, status: int, user: Any, url: str) -> Any:
        match = self.arg.search(body)  # type: ignore[attr-defined]
        if not match:
            return (f"regex {self.arg.pattern.decode()!r} did not match",)  # type: ignore[attr-defined]
        return (match.group(1) if match.groups() else match.group(0)).decode("utf-8", "replace")

    def _cookie(self, doc: Any, body: bytes, headers: Any, status: int, user: Any, url: str) -> Any:
        jar = user.cookies
        if jar is not None:
            for cookie in jar:
                if cookie.key == self.arg:
                    return cookie.value
        return (f"cookie '{self.arg}' not set",)


def compile_extract(extract: dict[str, str]) -> tuple[list[Extractor], bool]:
    """The step's extractors and whether any needs the body parsed as JSON."""
    out = [Extractor(var, source) for var, source in extract.items()]
    return out, any(e.kind == "json" for e in out)
