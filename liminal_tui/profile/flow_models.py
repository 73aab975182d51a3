"""Flow keys of the profile format: what makes a scenario a real user's flow (part of the reference).

Per scenario: ``setup`` / ``teardown`` step lists run once per virtual user (Locust's ``on_start`` /
``on_stop``), with :class:`SetupPolicy` saying what a failed setup does. Per step: ``when`` (a
condition, see :mod:`.conditions`) and ``retry`` (:class:`Retry`). Two step types without a request of
their own: ``set`` (:class:`SetStep`) and ``pause`` (:class:`PauseStep`). ``[user_vars]`` and
``[[data]]`` (:class:`DataFile`) live on the profile; ``form`` and ``multipart`` (:class:`Part`) on an
HTTP step.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import _Model, _check_template
from .durations import Duration
from .templates import template_variables

__all__ = ["SetupPolicy", "Retry", "SetStep", "PauseStep", "Part", "DataFile"]


class SetupPolicy(_Model):
    """What a failed ``setup`` does (``[scenarios.on_setup_failure]``).

    Example::

        [scenarios.on_setup_failure]
        action = "retry"     # or "end_user"
        times = 3
        backoff = "1s"       # 1 s, 2 s, 4 s ... (at most 30 s) between attempts
    """

    action: Literal["end_user", "retry"] = "end_user"
    """``"end_user"``: the user stops sending at once (its place is not refilled, so a login that fails
    for everyone does not turn into a login storm); ``"retry"``: run the whole setup again up to
    ``times`` more times, waiting ``backoff`` doubled each time, then end the user."""
    times: int = Field(default=3, ge=0, le=100)
    """Retries after the first attempt (``action = "retry"``)."""
    backoff: Duration = 1.0
    """Wait before the first retry, doubled for each next one, at most 30 s."""


class Retry(_Model):
    """``retry = { times = 2, pause = "0.5s" }`` on a step: run it again when it fails.

    Every attempt is a sample of the step's endpoint (a retried failure is still counted)."""

    times: int = Field(ge=1, le=100)
    """Attempts after the first."""
    pause: Duration = 0.0
    """Wait between attempts."""


class SetStep(_Model):
    """Assign variables once, for the steps after it: ``type = "set"``, ``vars = { product = "${choice:a|b}" }``.

    The same random choice can then be used in several later steps as ``${product}``. No request, no
    endpoint."""

    type: Literal["set"]
    vars: dict[str, Any] = Field(min_length=1)
    """Variables to set (templates allowed; a value that is exactly one template keeps its type)."""
    when: str | None = None
    """Run this step only when the condition holds (see the ``when`` grammar in the README)."""

    _v = field_validator("vars")(classmethod(lambda cls, v: _check_template(v)))

    def used_variables(self) -> set[str]:
        return template_variables(self.vars)


class PauseStep(_Model):
    """Wait between steps, as a Locust SequentialTaskSet waits after a task.

    ``type = "pause"`` with ``duration = "1s"`` (fixed) or ``min = "0.5s"`` and ``max = "2s"`` (random)."""

    type: Literal["pause"]
    duration: Duration | None = None
    """A fixed pause."""
    min: Duration | None = None
    """Shortest random pause (with ``max``)."""
    max: Duration | None = None
    """Longest random pause (with ``min``)."""
    when: str | None = None
    """Pause only when the condition holds."""

    @model_validator(mode="after")
    def _one(self) -> "PauseStep":
        ranged = self.min is not None or self.max is not None
        if (self.duration is None) == (not ranged):
            raise ValueError("pause needs either duration or min and max")
        if ranged and (self.min is None or self.max is None or self.max < self.min):
            raise ValueError("pause needs both min and max, with max not below min")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        if self.duration is not None:
            return self.duration, self.duration
        return float(self.min or 0.0), float(self.max or 0.0)

    def used_variables(self) -> set[str]:
        return set()


class Part(_Model):
    """One part of a ``multipart`` body: ``{ name = "avatar", file = "img.png", content_type = "image/png" }``
    or ``{ name = "title", value = "Hello ${user}" }``."""

    name: str
    """The form field name."""
    file: str | None = None
    """A file to upload (relative to the profile's folder), read once per worker; sent with its file name."""
    value: str | None = None
    """A text value (templates allowed)."""
    filename: str | None = None
    """The file name sent for ``file`` (default: the file's own name)."""
    content_type: str | None = None
    """The part's ``Content-Type`` (default: ``application/octet-stream`` for a file, none for a value)."""

    _v = field_validator("value")(classmethod(lambda cls, v: _check_template(v)))

    @model_validator(mode="after")
    def _one(self) -> "Part":
        if (self.file is None) == (self.value is None):
            raise ValueError(f"multipart part '{self.name}' needs exactly one of file or value")
        return self


class DataFile(_Model):
    """A data feeder (``[[data]]``): rows from a CSV file (with a header line) or JSON lines (one object a
    line), loaded once per worker; a row is a variable named ``name``: ``${creds.username}``.

    Example::

        [[data]]
        name = "creds"
        file = "users.csv"      # relative to the profile
        pick = "per_user"       # each user keeps one row
        on_end = "recycle"

    With several workers, worker k takes rows k, k+N, k+2N ... so ``sequential`` and ``per_user`` hand
    out each row once across the run before recycling. A missing file or a column a step uses that the
    file lacks is an error before the run. The rows are never copied into reports."""

    name: str
    """The variable a row is bound to."""
    file: str
    """A ``.csv`` (first line: column names) or ``.jsonl`` / ``.ndjson`` file, relative to the profile."""
    pick: Literal["per_user", "sequential", "random"] = "per_user"
    """``per_user``: each user takes the next row when it starts and keeps it; ``sequential``: the next
    row at each iteration; ``random``: a random row at each iteration."""
    on_end: Literal["recycle", "stop_user"] = "recycle"
    """When every row has been handed out: start again from the first, or end the user that asks."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(f"'{v}' is not a variable name (letters, digits and _)")
        return v
