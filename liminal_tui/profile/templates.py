"""Template values in profile strings: data substitution only, never code.

``${seq}``             a sequence number, unique per worker process
``${user}``            the virtual user's number; ``${iteration}`` its iteration count
``${uuid}``            a random UUID4 (hex with dashes)
``${randint:A:B}``     a random integer A <= n <= B
``${choice:a|b|c}``    one of the listed values, at random (a number in a JSON body when all are integers)
``${env:NAME}``        an environment variable, read once when the profile is loaded (a secret:
                       it is redacted in every report)
``${name}``            a variable extracted by an earlier step, set by a ``set`` step or in ``[vars]``,
                       ``[user_vars]``; ``${creds.username}`` a field of a ``[[data]]`` row or of an
                       extracted object. An object or a list renders as JSON.
``${urlencode:name}``  the variable percent-encoded (every reserved character)
``${base64:name}``     the variable base64-encoded (e.g. a Basic auth value built by a ``set`` step)
``${pick:name}``       a random item of a list variable (``extract = { ids = "json:items[*].id" }``)
``${now:FMT}``         the UTC time formatted with strftime, e.g. ``${now:%Y-%m-%d}``
``${unix_ms}``         milliseconds since 1970 (a number)
``${randstr:N}``       N random letters and digits
``${fake:KIND}``       plausible fake data from Faker: name, first_name, last_name, email, user_name,
                       password, phone_number, company, city, country, street_address, postcode,
                       sentence, word, url (repeatable with the profile's ``seed``)

In a JSON body (``json``, a ``ws_send``'s ``json``, a ``set`` step's ``vars``) a value that is exactly one
template keeps its type: ``count = "${randint:1:10}"`` sends the number 9, not the string "9".

Templates are compiled once into a list of parts; rendering a string without any ``${`` costs nothing.

In a URL (an HTTP step's ``path``, a ``ws_connect`` path) every value is percent-encoded (all but letters,
digits, ``-._~`` and ``/``), so a ``#``, ``?``, ``&`` or space in a value cannot cut or reshape the URL;
only a value the path *starts* with (``path = "${next_page}"``, a link taken from a response) is used
as it is.
"""

from __future__ import annotations

import itertools
import operator
import os
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import quote

from .template_funcs import FUNCTIONS, lookup, make_function, to_text, unix_ms

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
BUILTIN_NAMES = ("seq", "user", "iteration", "uuid", "unix_ms")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
_seq = itertools.count(1)


_PLAIN = frozenset((str, int, float))
"""Types whose ``format(value, "")`` is their template text (:func:`.template_funcs.to_text`)."""


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
    """Variables read (dotted names as written: ``creds.username``)."""
    uses_env: bool
    raw: Callable[[Context], Any] | None = None
    """For a template that is exactly one ``${...}``: its value with its type (see :class:`Typed`)."""
    plain: tuple[Callable[..., str], Callable[[Context], tuple[Any, ...]]] | None = None
    """For text and two or more plain variables (``echo ${user} ${iteration}``): a ``str.format`` of the
    text and an ``itemgetter`` of the names, used while the values are str, int or float (whose text is
    their ``format()``): 0.6 us a render where the parts take 1.0 (a ws_send/ws_wait echo renders two)."""

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
        plain = self.plain
        if plain is not None:
            try:
                values = plain[1](ctx)
            except KeyError:
                values = None  # the parts name the variable that has no value
            if values is not None and _PLAIN.issuperset(map(type, values)):
                return plain[0](*values)
        parts = self.parts
        if len(parts) == 1:
            part = parts[0]
            return part if isinstance(part, str) else part(ctx)
        return "".join([p if p.__class__ is str else p(ctx) for p in parts])  # a list: a generator costs 2x


def _variable(name: str) -> tuple[Callable[[Context], str], Callable[[Context], Any]]:
    """(text, raw) getters of a variable."""
    if "." in name:
        return (lambda ctx: to_text(lookup(ctx, name))), (lambda ctx: lookup(ctx, name))

    def get(ctx: Context) -> str:
        try:
            value = ctx[name]
        except KeyError:
            raise KeyError(f"template variable '{name}' has no value yet") from None
        kind = value.__class__
        return value if kind is str else str(value) if kind is int else to_text(value)  # user, iteration: ints

    def raw(ctx: Context) -> Any:
        try:
            return ctx[name]
        except KeyError:
            raise KeyError(f"template variable '{name}' has no value yet") from None

    get.plain_name = name  # type: ignore[attr-defined]  # a plain variable: see _plain()
    return get, raw


def _text_of(raw: Callable[[Context], Any]) -> Callable[[Context], str]:
    return lambda ctx: to_text(raw(ctx))


def _placeholder(expr: str, env: Mapping[str, str]) -> tuple[Any, Any, str | None, bool]:
    """Compile one ``${...}``; return (part, raw getter or None, variable name or None, uses env)."""
    expr = expr.strip()
    if expr == "seq":
        seq_raw = lambda ctx: next(_seq)  # noqa: E731
        return _text_of(seq_raw), seq_raw, None, False
    if expr == "uuid":
        return (lambda ctx: str(uuid.uuid4())), None, None, False
    if expr == "unix_ms":
        return _text_of(unix_ms), unix_ms, None, False
    if expr in ("user", "iteration"):
        return (*_variable(expr), None, False)
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
            return (lambda ctx: str(random.randint(low, high))), (lambda ctx: random.randint(low, high)), None, False
        if func == "choice":
            options = tuple(o for o in arg.split("|"))
            if not arg:
                raise TemplateError(f"'${{{expr}}}': choice needs options, e.g. ${{choice:a|b|c}}")
            numbers = [int(o) for o in options if o.lstrip("-").isdigit()]
            if len(numbers) == len(options):  # ${choice:11|12|13}: numbers in a JSON body
                return (lambda ctx: random.choice(options)), (lambda ctx: random.choice(numbers)), None, False
            return (lambda ctx: random.choice(options)), None, None, False
        if func == "env":
            if not _NAME.fullmatch(arg):
                raise TemplateError(f"'${{{expr}}}': env needs a variable name, e.g. ${{env:API_TOKEN}}")
            if arg not in env:
                raise TemplateError(f"environment variable '{arg}' is not set")
            return env[arg], None, None, True
        raw, var = make_function(func, arg)
        return _text_of(raw), raw, var, False
    if not _NAME_PATH.fullmatch(expr):
        raise TemplateError(f"'${{{expr}}}' is not a template value; see the list in the profile docs"
                            f" (functions: {', '.join(FUNCTIONS)})")
    return (*_variable(expr), expr, False)


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
    raw = None
    for match in _PLACEHOLDER.finditer(source):
        if match.start() > pos:
            parts.append(source[pos : match.start()])
        part, raw, var, from_env = _placeholder(match.group(1), env)
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
    whole = raw is not None and len(parts) == 1 and not isinstance(parts[0], str)
    return Template(source, tuple(parts), frozenset(variables), uses_env, raw if whole else None, _plain(parts))


def _plain(parts: list[str | Callable[[Context], str]]) -> Any:
    """:attr:`Template.plain` for ``parts``, or None (fewer than two variables, or anything but variables)."""
    names = [getattr(p, "plain_name", None) for p in parts if not isinstance(p, str)]
    if len(names) < 2 or None in names:
        return None
    text = "".join(p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{}" for p in parts)
    return text.format, operator.itemgetter(*names)


def template_variables(value: Any) -> set[str]:
    """Names of the user variables referenced anywhere in ``value`` (str, list or dict); for a dotted
    ``${creds.username}`` the variable ``creds``."""
    return {name.split(".")[0] for name in template_paths(value)}


def template_paths(value: Any) -> set[str]:
    """Variables referenced anywhere in ``value`` as written (``creds.username``)."""
    if isinstance(value, str):
        return set(compile_template(value, env=ANY_ENV).variables)
    if isinstance(value, dict):
        return set().union(*(template_paths(v) for v in value.values()), *(template_paths(k) for k in value))
    if isinstance(value, list):
        return set().union(*(template_paths(v) for v in value))
    return set()


class _AnyEnv(dict):
    """An environment that has every variable: used where only variable names matter."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return ""


ANY_ENV = _AnyEnv()
"""Compile with this to check a template's shape without reading the real environment."""


@dataclass(frozen=True, slots=True)
class Typed:
    """A JSON value that is exactly one template: rendered with its type (``"${randint:1:10}"`` -> 9)."""

    template: Template


def compile_value(value: Any, env: Mapping[str, str] | None = None, typed: bool = False) -> Any:
    """Compile every string inside ``value``; returns a structure of Templates.

    ``typed``: a JSON body, where a value that is exactly one template keeps its type."""
    if isinstance(value, str):
        tpl = compile_template(value, env)
        return Typed(tpl) if typed and tpl.raw is not None else tpl
    if isinstance(value, dict):
        return {k: compile_value(v, env, typed) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_value(v, env, typed) for v in value]
    return value


def render_value(value: Any, ctx: Context) -> Any:
    """Render a structure produced by :func:`compile_value`."""
    if isinstance(value, Template):
        return value.render(ctx)
    if isinstance(value, Typed):
        return value.template.raw(ctx)  # type: ignore[misc]
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
