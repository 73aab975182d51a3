"""Scenario steps: what a virtual user does, one step after another (part of the profile format)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from ._base import _Model, _check_template
from .durations import Duration
from .templates import BUILTIN_NAMES, template_variables

__all__ = [
    "HTTP_METHODS", "Check", "HttpStep", "WsConnect", "WsSend", "WsWait", "WsHold", "WsClose", "Step", "Scenario",
]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
OnFailure = Literal["end_iteration", "continue"]
"""What a failed step does to the rest of its iteration (see :attr:`Scenario.on_failure`)."""


# ---------------------------------------------------------------- steps


class Check(_Model):
    """What a response must satisfy to count as a success."""

    status: int | list[int] | None = None
    """Expected status code(s). Unset: any 2xx or 3xx."""
    json_has: list[str] = Field(default_factory=list)
    """JSON fields (dotted paths like ``items.0.id``) that must be present."""
    json_equals: dict[str, Any] = Field(default_factory=dict)
    """JSON fields that must equal a value (values may use templates)."""
    body_contains: str | None = None
    """Text the body must contain (templates allowed)."""

    _v = field_validator("json_equals", "body_contains")(classmethod(lambda cls, v: _check_template(v)))

    def statuses(self) -> frozenset[int] | None:
        if self.status is None:
            return None
        return frozenset([self.status] if isinstance(self.status, int) else self.status)


class HttpStep(_Model):
    """One HTTP request."""

    type: Literal["http"] = "http"
    method: str = "GET"
    path: str
    """Path (joined to the target) or a full URL, with templates, e.g. ``/api/memories/${memory_id}``."""
    name: str | None = None
    """Stats name; default ``"METHOD path"`` with templates left as written."""
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    """A JSON body (any TOML value; strings may use templates)."""
    body: str | None = None
    """A raw body; use ``json`` for JSON."""
    check: Check = Field(default_factory=Check)
    extract: dict[str, str] = Field(default_factory=dict)
    """Variables to take from the response: ``name = "json:items.0.id"``, ``"header:Location"``,
    ``"status"`` or ``"regex:id=(\\w+)"``."""
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        v = v.upper()
        if v not in HTTP_METHODS:
            raise ValueError(f"unknown HTTP method '{v}' (use one of {', '.join(HTTP_METHODS)})")
        return v

    @field_validator("path", "body", "query", "headers", "json_body")
    @classmethod
    def _templates(cls, v: Any) -> Any:
        return _check_template(v)

    @field_validator("extract")
    @classmethod
    def _extract(cls, v: dict[str, str]) -> dict[str, str]:
        for var, source in v.items():
            kind = source.split(":", 1)[0]
            if kind not in ("json", "header", "status", "regex"):
                raise ValueError(
                    f"extract.{var}: '{source}' must start with json:, header:, regex: or be 'status'"
                )
        return v

    @model_validator(mode="after")
    def _one_body(self) -> "HttpStep":
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        return self

    @property
    def stats_name(self) -> str:
        return self.name or f"{self.method} {self.path}"

    def used_variables(self) -> set[str]:
        fields = [self.path, self.body, self.query, self.headers, self.json_body, self.check.json_equals,
                  self.check.body_contains]
        return set().union(*(template_variables(f) for f in fields))


class WsConnect(_Model):
    """Open a WebSocket (kept by the virtual user until ``ws_close`` or the end of its life)."""

    type: Literal["ws_connect"]
    path: str = "/ws"
    name: str | None = None
    """Stats name; default ``"WS path"``."""
    headers: dict[str, str] = Field(default_factory=dict)
    heartbeat: Duration = 0.0
    """Send a WebSocket ping every this many seconds and record the round trip (0: off)."""
    reconnect: bool = True
    """Reconnect when the connection drops, with exponential backoff; reconnects are counted."""
    backoff_max: Duration = 10.0
    connect_timeout: Duration = 10.0
    max_message_size: int = Field(default=16 * 1024 * 1024, ge=1, le=2**31)
    """Largest message accepted, in bytes (default 16 MiB). A bigger one is the failure
    ``message too big`` on this endpoint, and the connection closes (code 1009)."""
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    _v = field_validator("path", "headers")(classmethod(lambda cls, v: _check_template(v)))

    @property
    def stats_name(self) -> str:
        return self.name or f"WS {self.path}"

    def used_variables(self) -> set[str]:
        return template_variables(self.path) | template_variables(self.headers)


class WsSend(_Model):
    """Send a message on the open WebSocket."""

    type: Literal["ws_send"]
    text: str | None = None
    json_body: Any = Field(default=None, alias="json")
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    _v = field_validator("text", "json_body")(classmethod(lambda cls, v: _check_template(v)))

    @model_validator(mode="after")
    def _one(self) -> "WsSend":
        if (self.text is None) == (self.json_body is None):
            raise ValueError("ws_send needs exactly one of text or json")
        return self

    def used_variables(self) -> set[str]:
        return template_variables(self.text) | template_variables(self.json_body)


class WsWait(_Model):
    """Wait for a message that matches; its latency is recorded under ``name``.

    With ``since = "previous"`` the latency runs from the start of the previous step: put it after an
    HTTP update to measure **broadcast latency** (update sent -> event received).
    """

    type: Literal["ws_wait"]
    name: str
    match: dict[str, Any] = Field(default_factory=dict)
    """JSON fields the message must have with these values (templates allowed); empty: any message."""
    contains: str | None = None
    """Text the message must contain."""
    timeout: Duration = 5.0
    since: Literal["wait", "previous"] = "wait"
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    _v = field_validator("match", "contains")(classmethod(lambda cls, v: _check_template(v)))

    def used_variables(self) -> set[str]:
        return template_variables(self.match) | template_variables(self.contains)


class WsHold(_Model):
    """Keep the WebSocket open (heartbeats keep running, messages are counted)."""

    type: Literal["ws_hold"]
    duration: Duration

    def used_variables(self) -> set[str]:
        return set()


class WsClose(_Model):
    """Close the WebSocket."""

    type: Literal["ws_close"]

    def used_variables(self) -> set[str]:
        return set()


Step = Annotated[Union[HttpStep, WsConnect, WsSend, WsWait, WsHold, WsClose], Field(discriminator="type")]


class Scenario(_Model):
    """A weighted sequence of steps that a virtual user runs as one iteration."""

    name: str
    weight: int = Field(default=1, ge=0)
    """Relative share of iterations (like Locust task weights); 0 turns the scenario off."""
    on_failure: OnFailure = "end_iteration"
    """When a step fails: ``"end_iteration"`` (later steps often need what the failed one was to extract)
    or ``"continue"`` with the next step. Steps not run are counted as ``skipped`` on their endpoint, and
    in ``continue`` a step whose template variable was never set is skipped too. A step may override it."""
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _ws_order(self) -> "Scenario":
        for i, step in enumerate(self.steps):
            if isinstance(step, (WsSend, WsWait, WsHold)) and not any(
                isinstance(s, WsConnect) for s in self.steps[:i]
            ):
                raise ValueError(f"steps.{i}: {step.type} needs a ws_connect step before it")
        return self

    def check_variables(self, predefined: set[str]) -> None:
        """Raise when a step uses a variable that no earlier step extracts and [vars] does not set."""
        known = set(BUILTIN_NAMES) | predefined
        for i, step in enumerate(self.steps):
            missing = step.used_variables() - known
            if missing:
                raise ValueError(
                    f"steps.{i}: template variable(s) {', '.join(sorted(missing))} are not set by "
                    f"an earlier step's extract or by [vars]"
                )
            if isinstance(step, HttpStep):
                known |= set(step.extract)
