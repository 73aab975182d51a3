"""The effective profile for ``profile.toml``, with secrets taken out.

Redacted with :data:`REDACTED`:

* the value of every header, query parameter and JSON body field whose name looks secret
  (``authorization``, ``cookie``, ``set-cookie``, ``x-api-key``, or any name containing token, secret,
  key, password, passwd, auth, session, credential or signature);
* every ``[vars]`` value that reads an environment variable (``${env:NAME}``), and any secret-named one;
* a password in the target URL (``http://user:pass@host``).

Other strings that use ``${env:NAME}`` keep their template text: the model never holds the expanded
value, so the text names the variable without revealing it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import tomli_w

from ..profile.models import Profile
from ..profile.templates import REDACTED, uses_env

__all__ = ["redacted_profile", "profile_toml", "is_secret_name", "redact_url"]

_SECRET_NAMES = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
_SECRET_WORDS = ("token", "secret", "key", "password", "passwd", "auth", "session", "credential", "signature")
_USER_DATA = ("headers", "query", "json", "json_equals", "match")
"""Step fields holding the user's own names and values."""


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def redact_url(url: str) -> str:
    """``url`` without the password of its user info (kept for every other URL unchanged)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{REDACTED}@{host}"))


def _scrub(value: Any, env_too: bool = False) -> Any:
    """Secret-named entries of every dict inside ``value`` redacted (and env-using strings if asked)."""
    if isinstance(value, dict):
        return {
            k: REDACTED if is_secret_name(str(k)) and not isinstance(v, (dict, list)) else _scrub(v, env_too)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, env_too) for v in value]
    if env_too and isinstance(value, str) and uses_env(value):
        return REDACTED
    return value


def redacted_profile(profile: Profile) -> dict[str, Any]:
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(data.get("target"), str):
        data["target"] = redact_url(data["target"])
    if "vars" in data:
        data["vars"] = _scrub(data["vars"], env_too=True)
    http = data.get("http") or {}
    if "headers" in http:
        http["headers"] = _scrub(http["headers"])
    for scenario in data.get("scenarios", []):
        for step in scenario.get("steps", []):
            for key in _USER_DATA:
                if key in step:
                    step[key] = _scrub(step[key])
    return data


def profile_toml(profile: Profile) -> str:
    """The effective profile as TOML, secrets redacted."""
    return (
        "# The effective profile of this run (defaults filled in, secrets redacted).\n"
        + tomli_w.dumps(redacted_profile(profile))
    )
