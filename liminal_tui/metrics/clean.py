"""Outside strings made safe where they enter a failure: control characters out, secrets redacted.

Every failure message and name passes through :class:`Cleaner` in the worker (``EndpointRecorder.failure``)
before it is counted, so nothing downstream (dashboard, headless summary, CSV, summary.json, report.html,
Prometheus) ever holds a raw target string or an ``${env:...}`` value:

* :func:`sanitize` strips C0 and C1 control characters (``\\x1b]0;TITLE\\x07`` in a reason phrase would
  set a terminal's title; a newline would break a CSV row read by a naive tool); tab, CR and LF become a
  space. The HTML report escapes on top of this.
* :class:`Cleaner` also replaces each secret (the value of every ``${env:NAME}`` the profile reads) with
  ``***`` in every form a message can carry it: as is, percent-encoded, JSON-escaped, ``repr``-quoted,
  and inside base64 (an echoed ``Authorization: Basic`` header carries ``base64("user:" + secret)``).
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any, Iterable, Mapping
from urllib.parse import quote, quote_plus

from ..profile.templates import REDACTED, URL_SAFE

__all__ = ["sanitize", "Cleaner", "env_names", "secret_values"]

_CONTROL = {c: None for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))} | {0x09: " ", 0x0A: " ", 0x0D: " "}
_ENV = re.compile(r"\$\{\s*env:([A-Za-z_][A-Za-z0-9_]*)\s*\}")


def sanitize(text: str) -> str:
    """``text`` without C0/C1 control characters (tab, CR, LF become a space)."""
    if text.isascii() and text.isprintable():  # the common case: nothing to do
        return text
    return text.translate(_CONTROL)


def env_names(value: Any) -> set[str]:
    """Names of the environment variables that ``${env:NAME}`` reads anywhere inside ``value``."""
    if isinstance(value, str):
        return set(_ENV.findall(value)) if "${" in value else set()
    if isinstance(value, dict):
        return set().union(*(env_names(k) | env_names(v) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return set().union(*(env_names(v) for v in value))
    return set()


def secret_values(profile: Any, env: Mapping[str, str] | None = None) -> list[str]:
    """The values of every environment variable the profile reads (a pydantic Profile or a dict)."""
    env = os.environ if env is None else env
    data = profile.model_dump(mode="json", by_alias=True) if hasattr(profile, "model_dump") else profile
    return sorted({env[name] for name in env_names(data) if env.get(name)})


def _forms(secret: str) -> set[str]:
    """Every spelling in which a message can carry ``secret``."""
    forms = {secret, quote(secret, safe=""), quote(secret, safe=URL_SAFE), quote_plus(secret),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
             sanitize(secret)}
    return {f for f in forms if f} | _base64_cores(secret)


_MIN_BASE64_CORE = 6  # shorter cores would redact innocent base64 by chance


def _base64_cores(secret: str) -> set[str]:
    """The base64 characters that ``secret`` alone decides, at each of the three byte alignments it can
    take inside a longer base64 text (standard and URL-safe alphabets)."""
    raw = secret.encode()
    cores = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw + b"\0\0").decode()
        start = -(-8 * pad // 6)  # the first character made only of the secret's bits
        end = 8 * (pad + len(raw)) // 6  # one past the last such character
        core = encoded[start:end]
        if len(core) >= _MIN_BASE64_CORE:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


class Cleaner:
    """``cleaner(text)``: sanitized, with every secret redacted. Cheap when a message holds neither."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = set().union(*(_forms(s) for s in secrets if s)) if secrets else set()
        self._secrets = tuple(sorted(forms, key=len, reverse=True))  # longest first: no partial leftovers

    def __call__(self, text: str) -> str:
        text = sanitize(text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
