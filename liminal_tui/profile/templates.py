"""Template values in profile strings: data substitution only, never code.

``${seq}``             a sequence number, unique per worker process
``${user}``            the virtual user's number; ``${iteration}`` its iteration count
``${uuid}``            a random UUID4 (hex with dashes)
``${randint:A:B}``     a random integer A <= n <= B
``${choice:a|b|c}``    one of the listed values, at random
``${env:NAME}``        an environment variable, read once when the profile is loaded (a secret:
                       it is redacted in every report)
``${name}``            a variable extracted by an earlier step or set in ``[vars]``

Templates are compiled once into a list of parts; rendering a string without any ``${`` costs nothing.

In a URL (an HTTP step's ``path``, a ``ws_connect`` path) every value is percent-encoded (all but letters,
digits, ``-._~`` and ``/``), so a ``#``, ``?``, ``&`` or space in a value cannot cut or reshape the URL;
only a value the path *starts* with (``path = "${next_page}"``, a link taken from a response) is used
as it is.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import quote

__all__ = [
    "TemplateError",
    "Template",
    "compile_template",
    "template_variables",
    "render_value",
    "BUILTIN_NAMES",
    "REDACTED",
    "URL_SAFE",
]

REDACTED = "***"
URL_SAFE = "/"
"""Characters left as they are when a value is percent-encoded into a URL (besides letters, digits, -._~)."""
BUILTIN_NAMES = ("seq", "user", "iteration", "uuid")
_FUNCTIONS = ("randint", "choice", "env")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_seq = itertools.count(1)


class TemplateError(ValueError):
    """A template that cannot be compiled."""


Context = Mapping[str, Any]
"""Variables of one virtual user: extracted values plus ``user`` and ``iteration``."""


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template string."""

    source: str
    parts: tuple[str | Callable[[Context], str], ...]
    variables: frozenset[str]
    uses_env: bool

    @property
    def is_static(self) -> bool:
        return not self.parts or (len(self.parts) == 1 and isinstance(self.parts[0], str))

    def prefixed(self, prefix: str) -> "Template":
        """This template with literal text before it (a base URL before a step's path)."""
        parts = self.parts
        if parts and isinstance(parts[0], str):
            parts = (prefix + parts[0], *parts[1:])
        else:
            parts = (prefix, *parts) if prefix else parts
        return Template(prefix + self.source, parts, self.variables, self.uses_env)

    def render(self, ctx: Context) -> str:
        parts = self.parts
        if len(parts) == 1:
            part = parts[0]
            return part if isinstance(part, str) else part(ctx)
        return "".join(p if isinstance(p, str) else p(ctx) for p in parts)


def _variable(name: str) -> Callable[[Context], str]:
    def get(ctx: Context) -> str:
        try:
            return str(ctx[name])
        except KeyError:
            raise KeyError(f"template variable '{name}' has no value yet") from None

    return get


def _placeholder(expr: str, env: Mapping[str, str]) -> tuple[str | Callable[[Context], str], str | None, bool]:
    """Compile one ``${...}``; return (part, variable name or None, uses env)."""
    expr = expr.strip()
    if expr == "seq":
        return (lambda ctx: str(next(_seq))), None, False
    if expr == "uuid":
        return (lambda ctx: str(uuid.uuid4())), None, False
    if expr in ("user", "iteration"):
        return _variable(expr), None, False
    func, sep, arg = expr.partition(":")
    if sep:
        if func == "randint":
            bounds = arg.split(":")
            try:
                low, high = (int(b) for b in bounds)
            except ValueError:
                raise TemplateError(f"'${{{expr}}}': write randint as ${{randint:LOW:HIGH}} with two integers") from None
            if low > high:
                raise TemplateError(f"'${{{expr}}}': LOW must not be greater than HIGH")
            return (lambda ctx: str(random.randint(low, high))), None, False
        if func == "choice":
            options = tuple(o for o in arg.split("|"))
            if not arg:
                raise TemplateError(f"'${{{expr}}}': choice needs options, e.g. ${{choice:a|b|c}}")
            return (lambda ctx: random.choice(options)), None, False
        if func == "env":
            if not _NAME.fullmatch(arg):
                raise TemplateError(f"'${{{expr}}}': env needs a variable name, e.g. ${{env:API_TOKEN}}")
            if arg not in env:
                raise TemplateError(f"environment variable '{arg}' is not set")
            return env[arg], None, True
        raise TemplateError(
            f"'${{{expr}}}': unknown template function '{func}' (known: {', '.join(_FUNCTIONS)})"
        )
    if not _NAME.fullmatch(expr):
        raise TemplateError(f"'${{{expr}}}' is not a template value; see the list in the profile docs")
    return _variable(expr), expr, False


def _encoded(part: Callable[[Context], str]) -> Callable[[Context], str]:
    return lambda ctx: quote(part(ctx), safe=URL_SAFE)


def compile_template(source: str, env: Mapping[str, str] | None = None, url: bool = False) -> Template:
    """Compile ``source``; raise :class:`TemplateError` on a malformed placeholder.

    ``url``: ``source`` is a URL; percent-encode every value but one the URL starts with."""
    if "${" not in source:
        return Template(source, (source,) if source else (), frozenset(), False)
    env = os.environ if env is None else env
    parts: list[str | Callable[[Context], str]] = []
    variables: set[str] = set()
    uses_env = False
    pos = 0
    for match in _PLACEHOLDER.finditer(source):
        if match.start() > pos:
            parts.append(source[pos : match.start()])
        part, var, from_env = _placeholder(match.group(1), env)
        if url and match.start() > 0:
            part = quote(part, safe=URL_SAFE) if isinstance(part, str) else _encoded(part)
        uses_env |= from_env
        if var:
            variables.add(var)
        if isinstance(part, str) and parts and isinstance(parts[-1], str):
            parts[-1] += part
        else:
            parts.append(part)
        pos = match.end()
    if "${" in source[pos:]:
        raise TemplateError(f"unclosed '${{' in '{source}'")
    if pos < len(source):
        if parts and isinstance(parts[-1], str):
            parts[-1] += source[pos:]
        else:
            parts.append(source[pos:])
    return Template(source, tuple(parts), frozenset(variables), uses_env)


def template_variables(value: Any) -> set[str]:
    """Names of the user variables referenced anywhere in ``value`` (str, list or dict)."""
    if isinstance(value, str):
        return set(compile_template(value, env=ANY_ENV).variables)
    if isinstance(value, dict):
        return set().union(*(template_variables(v) for v in value.values()), *(template_variables(k) for k in value))
    if isinstance(value, list):
        return set().union(*(template_variables(v) for v in value))
    return set()


class _AnyEnv(dict):
    """An environment that has every variable: used where only variable names matter."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return ""


ANY_ENV = _AnyEnv()
"""Compile with this to check a template's shape without reading the real environment."""


def compile_value(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """Compile every string inside ``value``; returns a structure of Templates."""
    if isinstance(value, str):
        return compile_template(value, env)
    if isinstance(value, dict):
        return {k: compile_value(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_value(v, env) for v in value]
    return value


def render_value(value: Any, ctx: Context) -> Any:
    """Render a structure produced by :func:`compile_value`."""
    if isinstance(value, Template):
        return value.render(ctx)
    if isinstance(value, dict):
        return {k: render_value(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, ctx) for v in value]
    return value


def uses_env(value: Any) -> bool:
    """True when any string in ``value`` reads an environment variable (and so is a secret)."""
    if isinstance(value, str):
        return "${env:" in value.replace(" ", "")
    if isinstance(value, dict):
        return any(uses_env(v) for v in value.values())
    if isinstance(value, list):
        return any(uses_env(v) for v in value)
    return False
