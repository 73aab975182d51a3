"""Durations as users write them (``"30s"``, ``"10m"``, ``"1h30m"``, ``"250ms"``) and back."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Duration", "parse_duration", "format_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: Any) -> float:
    """Return seconds for ``value``: a number of seconds or a string like ``"1m30s"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30s', '10m' or '1h', not a boolean")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text:
            raise ValueError("empty duration; write e.g. '30s', '10m' or '1h'")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or pos == 0:
                raise ValueError(
                    f"'{value}' is not a duration; write e.g. '500ms', '30s', '10m', '1h' or '1m30s'"
                )
    else:
        raise ValueError("expected a duration like '30s', '10m' or '1h'")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("duration must be finite")
    if seconds < 0:
        raise ValueError("duration must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact string for ``seconds``: ``90 -> '1m30s'``, ``0.25 -> '250ms'``."""
    if seconds < 1 and seconds != 0:
        ms = seconds * 1000
        return f"{ms:g}ms"
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest, out = int(seconds), ""
    for unit, size in (("h", 3600), ("m", 60)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    if rest or not out:
        out += f"{rest}s"
    return out


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json-unless-none"),
]
"""Seconds in Python, a string like ``"1m30s"`` in TOML."""
