"""Scenario steps: what a virtual user does, one step after another (part of the profile format)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from ._base import _Model, _check_template
from .conditions import ConditionError, condition_variables
from .durations import Duration
from .flow_models import Part, PauseStep, Retry, SetStep, SetupPolicy
from .socketio_models import SioClose, SioConnect, SioEmit, SioWait
from .templates import BUILTIN_NAMES, template_variables

__all__ = [
    "HTTP_METHODS", "Check", "HttpStep", "WsConnect", "WsSend", "WsWait", "WsHold", "WsClose", "Step", "Scenario",
    "SetStep", "PauseStep", "EXTRACT_SOURCES",
]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
OnFailure = Literal["end_iteration", "continue"]
"""What a failed step does to the rest of its iteration (see :attr:`Scenario.on_failure`)."""
EXTRACT_SOURCES = ("json", "header", "status", "regex", "cookie")


def _check_when(v: str | None) -> str | None:
    if v is not None:
        try:
            condition_variables(v)
        except ConditionError as exc:
            raise ValueError(str(exc)) from None
    return v


def _when_variables(when: str | None) -> set[str]:
    """Variables a ``when`` reads (their first part; ``status`` is always known)."""
    if when is None:
        return set()
    return {n.split(".")[0] for n in condition_variables(when)} - {"status"}


def _check_extract(var: str, source: str) -> None:
    for i, piece in enumerate(source.split("|")):
        kind = piece.split(":", 1)[0]
        if i and kind != "regex":
            raise ValueError(f"extract.{var}: after '|' only regex: may follow ('{source}')")
        if kind not in EXTRACT_SOURCES:
            raise ValueError(
                f"extract.{var}: '{source}' must start with json:, header:, regex:, cookie: or be 'status'"
            )
        if kind == "regex":
            import re

            try:
                re.compile(piece[6:])
            except re.error as exc:
                raise ValueError(f"extract.{var}: bad regex {piece[6:]!r}: {exc}") from None


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
    form: dict[str, str] | None = None
    """A form body, URL-encoded for you (``Content-Type: application/x-www-form-urlencoded``):
    ``form = { username = "${creds.username}", csrfmiddlewaretoken = "${csrf}" }``."""
    multipart: list[Part] | None = None
    """A ``multipart/form-data`` body: ``multipart = [ { name = "file", file = "avatar.png",
    content_type = "image/png" }, { name = "title", value = "me" } ]`` (files relative to the profile)."""
    cookies: dict[str, str] = Field(default_factory=dict)
    """Cookies to send with this request (templates allowed), on top of the user's jar:
    ``cookies = { csrftoken = "${csrf}" }``."""
    when: str | None = None
    """Run the step only when this condition holds, else count it as skipped: ``when = "ids exists"``
    (grammar in :mod:`liminal_tui.profile.conditions`)."""
    retry: Retry | None = None
    """Run the step again when it fails: ``retry = { times = 2, pause = "0.5s" }``; each attempt is a sample."""
    check: Check = Field(default_factory=Check)
    extract: dict[str, str] = Field(default_factory=dict)
    """Variables to take from the response: ``name = "json:items.0.id"``, ``"json:items[*].id"`` (a
    list of every item's id, for ``${pick:ids}``), ``"header:Location"``, ``"status"``,
    ``"regex:id=(\\w+)"`` (on the body), ``"cookie:csrftoken"`` (from the user's jar), and a
    ``|regex:...`` after any of them to cut a piece out: ``"header:Location|regex:ticket=([^&]+)"``.
    A JSON object or list is kept as it is, and renders as JSON."""
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        v = v.upper()
        if v not in HTTP_METHODS:
            raise ValueError(f"unknown HTTP method '{v}' (use one of {', '.join(HTTP_METHODS)})")
        return v

    @field_validator("path", "body", "query", "headers", "json_body", "form", "cookies")
    @classmethod
    def _templates(cls, v: Any) -> Any:
        return _check_template(v)

    _v_when = field_validator("when")(classmethod(lambda cls, v: _check_when(v)))

    @field_validator("extract")
    @classmethod
    def _extract(cls, v: dict[str, str]) -> dict[str, str]:
        for var, source in v.items():
            _check_extract(var, source)
        return v

    @model_validator(mode="after")
    def _one_body(self) -> "HttpStep":
        given = [k for k in ("json", "body", "form", "multipart")
                 if getattr(self, "json_body" if k == "json" else k) is not None]
        if len(given) > 1:
            raise ValueError(f"give either {given[0]} or {given[1]}, not both" if len(given) == 2 else f"give one body, not {', '.join(given)}")
        return self

    @property
    def stats_name(self) -> str:
        return self.name or f"{self.method} {self.path}"

    def used_variables(self) -> set[str]:
        fields = [self.path, self.body, self.query, self.headers, self.json_body, self.check.json_equals,
                  self.check.body_contains, self.form, self.cookies, [p.value for p in self.multipart or ()]]
        return set().union(*(template_variables(f) for f in fields)) | _when_variables(self.when)


class WsSend(_Model):
    """Send a message on the open WebSocket."""

    type: Literal["ws_send"]
    text: str | None = None
    json_body: Any = Field(default=None, alias="json")
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""
    when: str | None = None
    """Send only when this condition holds."""

    _v = field_validator("text", "json_body")(classmethod(lambda cls, v: _check_template(v)))
    _v_when = field_validator("when")(classmethod(lambda cls, v: _check_when(v)))

    @model_validator(mode="after")
    def _one(self) -> "WsSend":
        if (self.text is None) == (self.json_body is None):
            raise ValueError("ws_send needs exactly one of text or json")
        return self

    def used_variables(self) -> set[str]:
        return template_variables(self.text) | template_variables(self.json_body) | _when_variables(self.when)


class WsWait(_Model):
    """Wait for a message that matches; its latency is recorded under ``name``.

    With ``since = "previous"`` the latency runs from the start of the previous step: put it after an
    HTTP update to measure **broadcast latency** (update sent -> event received). A wait never matches
    again the message it matched the time before (a ``ws_wait`` that repeats, since its own previous
    start, takes the next broadcast, not the same one twice).

    With ``stamp`` (a message that carries its send time) each matched message also records its
    **delivery** latency, arrival here minus that stamp: the fan-out latency from the server's send to
    this user, whoever caused the message (the ``delivery`` timing of the endpoint).
    """

    type: Literal["ws_wait"]
    name: str
    match: dict[str, Any] = Field(default_factory=dict)
    """JSON fields the message must have with these values (templates allowed); empty: any message."""
    contains: str | None = None
    """Text the message must contain."""
    timeout: Duration = 5.0
    """How long to wait for a matching message before the step fails with ``timeout``. Noticed within
    a twentieth of the timeout (at most 50 ms, at least 5 ms) by the worker's one timer for all waits; the
    failure is timed as the time really waited."""
    since: Literal["wait", "previous"] = "wait"
    """``wait``: latency from this step's start, seeing messages that arrive from then on. ``previous``:
    from the previous step's start (an HTTP update's send), seeing what arrived since then."""
    stamp: str | None = None
    """Dotted JSON path of the message's send time as the server stamped it (``sent_ns``, ``meta.ts``);
    a matched message whose stamp is missing or not a number records no delivery. Cost: one clock read
    and a field lookup a matched message."""
    stamp_unit: Literal["auto", "s", "ms", "us", "ns"] = "auto"
    """Unit of the stamp. ``auto`` (Unix time only) tells seconds, milliseconds, microseconds and
    nanoseconds apart by the size of the number."""
    stamp_clock: Literal["unix", "monotonic"] = "unix"
    """The clock of the stamp: ``unix`` (the wall clock; across hosts its figures are as good as the
    hosts' clock sync, NTP's error is in every sample and a receiver behind the sender records 1 us) or
    ``monotonic`` (``CLOCK_MONOTONIC``, a server on this host only; needs an explicit ``stamp_unit``)."""
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""
    when: str | None = None
    """Wait only when this condition holds."""

    _v = field_validator("match", "contains")(classmethod(lambda cls, v: _check_template(v)))
    _v_when = field_validator("when")(classmethod(lambda cls, v: _check_when(v)))

    @model_validator(mode="after")
    def _stamp(self) -> "WsWait":
        if self.stamp is not None and (not self.stamp or "[*]" in self.stamp):
            raise ValueError(f"stamp: '{self.stamp}' must be a dotted path to one field (e.g. 'sent_ns')")
        if self.stamp_clock == "monotonic" and self.stamp_unit == "auto":
            raise ValueError("stamp_unit: a monotonic stamp needs its unit (s, ms, us or ns), 'auto' reads Unix times only")
        return self

    def used_variables(self) -> set[str]:
        return template_variables(self.match) | template_variables(self.contains) | _when_variables(self.when)


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
    on_connect: list[Annotated[Union[WsSend, WsWait], Field(discriminator="type")]] = Field(default_factory=list)
    """``ws_send`` / ``ws_wait`` steps run after every connect and every reconnect (a handshake, a
    subscribe): ``on_connect = [ { type = "ws_send", json = { op = "hello" } }, { type = "ws_wait",
    name = "welcome", match = { op = "welcome" } } ]``. A failure here fails the connect step; after a
    reconnect it is counted on the wait's endpoint."""
    when: str | None = None
    """Connect only when this condition holds."""

    _v = field_validator("path", "headers")(classmethod(lambda cls, v: _check_template(v)))
    _v_when = field_validator("when")(classmethod(lambda cls, v: _check_when(v)))

    @property
    def stats_name(self) -> str:
        return self.name or f"WS {self.path}"

    def used_variables(self) -> set[str]:
        inner = set().union(*(s.used_variables() for s in self.on_connect))
        return template_variables(self.path) | template_variables(self.headers) | inner | _when_variables(self.when)


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


Step = Annotated[
    Union[HttpStep, WsConnect, WsSend, WsWait, WsHold, WsClose, SetStep, PauseStep,
          SioConnect, SioEmit, SioWait, SioClose],
    Field(discriminator="type"),
]


def _extracted(step: Any) -> set[str]:
    if isinstance(step, HttpStep):
        return set(step.extract)
    if isinstance(step, SetStep):
        return set(step.vars)
    return set()


class Scenario(_Model):
    """A weighted sequence of steps that a virtual user runs as one iteration.

    With ``setup`` and ``teardown`` (Locust's ``on_start`` / ``on_stop``)::

        [[scenarios]]
        name = "shopper"
        [[scenarios.setup]]          # once per user, before its first iteration of this scenario
        type = "http"
        method = "POST"
        path = "/login"
        extract = { token = "json:token" }
        [[scenarios.steps]]          # every iteration
        type = "http"
        path = "/cart"
        headers = { Authorization = "Bearer ${token}" }
        [[scenarios.teardown]]       # once, when the user stops
        type = "http"
        method = "POST"
        path = "/logout"
    """

    name: str
    weight: int = Field(default=1, ge=0)
    """Relative share of iterations (like Locust task weights); 0 turns the scenario off."""
    on_failure: OnFailure = "end_iteration"
    """When a step fails: ``"end_iteration"`` (later steps often need what the failed one was to extract)
    or ``"continue"`` with the next step. Steps not run are counted as ``skipped`` on their endpoint, and
    in ``continue`` a step whose template variable was never set is skipped too. A step may override it."""
    setup: list[Step] = Field(default_factory=list)
    """Steps a user runs once, before its first iteration of this scenario (a login); measured under
    their own names. What they extract is kept for the user's life. In the open model every iteration is
    a new user, so setup runs each time."""
    teardown: list[Step] = Field(default_factory=list)
    """Steps a user runs once when it stops (a logout), if it ran this scenario; measured under their
    own names. They run within the stop's grace period."""
    on_setup_failure: SetupPolicy = Field(default_factory=SetupPolicy)
    """What a failed setup step does: end the user (default) or retry with backoff."""
    steps: list[Step] = Field(min_length=1)

    def all_steps(self) -> list[Any]:
        """Every step of the scenario, setup and teardown and ``on_connect`` steps included, in order."""
        out: list[Any] = []
        for step in [*self.setup, *self.steps, *self.teardown]:
            out.append(step)
            out.extend(getattr(step, "on_connect", ()))
        return out

    @model_validator(mode="after")
    def _ws_order(self) -> "Scenario":
        for part, steps in (("setup", self.setup), ("steps", self.steps), ("teardown", self.teardown)):
            before = self.setup if part != "setup" else []
            for i, step in enumerate(steps):
                if isinstance(step, (WsSend, WsWait, WsHold)) and not any(
                    isinstance(s, WsConnect) for s in [*before, *steps[:i]]
                ):
                    raise ValueError(f"{part}.{i}: {step.type} needs a ws_connect step before it")
                if isinstance(step, (SioEmit, SioWait)) and not any(
                    isinstance(s, SioConnect) for s in [*before, *steps[:i]]
                ):
                    raise ValueError(f"{part}.{i}: {step.type} needs a socketio_connect step before it")
        return self

    def check_variables(self, predefined: set[str]) -> None:
        """Raise when a step uses a variable that no earlier step extracts and [vars] does not set."""
        known = set(BUILTIN_NAMES) | predefined
        for part, steps in (("setup", self.setup), ("steps", self.steps), ("teardown", self.teardown)):
            for i, step in enumerate(steps):
                missing = step.used_variables() - known
                if missing:
                    raise ValueError(
                        f"{part}.{i}: template variable(s) {', '.join(sorted(missing))} are not set by "
                        f"an earlier step's extract, a set step, [vars], [user_vars] or [[data]]"
                    )
                known |= _extracted(step)
