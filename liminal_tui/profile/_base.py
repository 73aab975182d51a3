"""What every profile model shares: strict, unknown keys refused, templates checked as they are read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from .templates import ANY_ENV, TemplateError, compile_template

__all__ = ["_Model", "_check_template"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def _check_template(value: Any) -> Any:
    """Compile every string to catch malformed placeholders (env values are checked at load)."""
    if isinstance(value, str):
        try:
            compile_template(value, env=ANY_ENV)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_template(k)
            _check_template(v)
    elif isinstance(value, list):
        for v in value:
            _check_template(v)
    return value

