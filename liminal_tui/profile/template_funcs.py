"""Template functions that compute a value (see :mod:`.templates` for the list and the syntax).

Each ``make_*`` takes the text after ``name:`` and returns a function of the user's variables that gives
the *raw* value (an ``int`` for ``randint``/``unix_ms``, a list element for ``pick``): a JSON body value
that is exactly one template keeps that type; anywhere else the value becomes text.

Fake data comes from Faker, imported on first use only (it takes ~0.5 s to import) and seeded by the
profile's ``seed`` for repeatable runs.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import quote

__all__ = ["FUNCTIONS", "FAKE_KINDS", "make_function", "seed_random", "to_text", "lookup"]

Raw = Callable[[Mapping[str, Any]], Any]

FAKE_KINDS = (
    "name", "first_name", "last_name", "email", "user_name", "password", "phone_number", "company",
    "city", "country", "street_address", "postcode", "sentence", "word", "url",
)
"""The Faker generators ``${fake:KIND}`` may call (a fixed list: a profile names data, never code)."""
_ALNUM = string.ascii_letters + string.digits
_seed: int | None = None
_faker: Any = None


def seed_random(seed: int | None) -> None:
    """Seed ``random`` and Faker (worker k passes ``profile.seed + k``); None: leave them random."""
    global _seed, _faker
    _seed = seed
    _faker = None
    if seed is not None:
        random.seed(seed)


def _fake() -> Any:
    global _faker
    if _faker is None:
        from faker import Faker

        _faker = Faker()
        _faker.seed_instance(_seed if _seed is not None else random.getrandbits(32))
    return _faker


def to_text(value: Any) -> str:
    """A variable's value as text: JSON for an object or a list (not a Python repr), else ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def lookup(ctx: Mapping[str, Any], name: str) -> Any:
    """``ctx[name]``, going into objects and lists for a dotted name (``creds.username``, ``items.0``)."""
    if name in ctx:
        return ctx[name]
    head, _, rest = name.partition(".")
    if not rest or head not in ctx:
        raise KeyError(f"template variable '{name}' has no value yet")
    node = ctx[head]
    for part in rest.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(f"template variable '{name}' has no value ('{part}' missing)")
    return node


def _of_variable(arg: str, what: str) -> str:
    from .templates import TemplateError, _NAME_PATH

    if not _NAME_PATH.fullmatch(arg):
        raise TemplateError(f"'${{{what}:{arg}}}': {what} takes a variable name, e.g. ${{{what}:token}}")
    return arg


def make_function(func: str, arg: str) -> tuple[Raw, str | None]:
    """(raw-value function, variable it reads or None) for ``${func:arg}``; raise TemplateError if unknown."""
    from .templates import TemplateError

    expr = f"${{{func}:{arg}}}"
    if func == "urlencode":
        name = _of_variable(arg, func)
        return (lambda ctx: quote(to_text(lookup(ctx, name)), safe="")), name
    if func == "base64":
        name = _of_variable(arg, func)
        return (lambda ctx: base64.b64encode(to_text(lookup(ctx, name)).encode()).decode()), name
    if func == "pick":
        name = _of_variable(arg, func)

        def pick(ctx: Mapping[str, Any]) -> Any:
            items = lookup(ctx, name)
            if not isinstance(items, list) or not items:
                raise KeyError(f"${{pick:{name}}}: '{name}' is not a list with items")
            return random.choice(items)

        return pick, name
    if func == "now":
        fmt = arg or "%Y-%m-%dT%H:%M:%SZ"
        try:
            datetime.now(timezone.utc).strftime(fmt)
        except ValueError as exc:
            raise TemplateError(f"'{expr}': {exc}") from None
        return (lambda ctx: datetime.now(timezone.utc).strftime(fmt)), None
    if func == "randstr":
        try:
            n = int(arg)
        except ValueError:
            n = -1
        if not 1 <= n <= 10_000:
            raise TemplateError(f"'{expr}': write randstr as ${{randstr:N}} with 1 <= N <= 10000")
        return (lambda ctx: "".join(random.choices(_ALNUM, k=n))), None
    if func == "fake":
        if arg not in FAKE_KINDS:
            raise TemplateError(f"'{expr}': unknown fake value (known: {', '.join(FAKE_KINDS)})")
        import importlib.util

        if importlib.util.find_spec("faker") is None:
            raise TemplateError(f"'{expr}': fake data needs Faker: pip install 'liminal-tui[fake]'")
        return (lambda ctx: getattr(_fake(), arg)()), None
    raise TemplateError(f"'{expr}': unknown template function '{func}' (known: {', '.join(FUNCTIONS)})")


FUNCTIONS = ("randint", "choice", "env", "urlencode", "base64", "pick", "now", "randstr", "fake")
"""Every ``${name:argument}`` function."""


def unix_ms(ctx: Mapping[str, Any]) -> int:
    return time.time_ns() // 1_000_000
