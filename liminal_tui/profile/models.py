"""The profile format. These models are its single definition: read them as the TOML reference.

A profile, top to bottom::

    name = "smoke"                 # shown in reports and on screen
    target = "builtin"             # a base URL, or "builtin" for the demo target
    duration = "1m"

    [http]                         # HttpSettings
    [load]                         # LoadModel: closed (users) or open (rate), optional [[load.stages]]
    [[scenarios]]                  # Scenario, each with [[scenarios.steps]]
    [thresholds]                   # pass/fail rules, see thresholds.py
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .durations import Duration
from .templates import BUILTIN_NAMES, TemplateError, compile_template, template_variables
from .thresholds import Thresholds

__all__ = [
    "Profile",
    "HttpSettings",
    "Timeouts",
    "LoadModel",
    "Stage",
    "ThinkTime",
    "Scenario",
    "HttpStep",
    "Check",
    "WsConnect",
    "WsSend",
    "WsWait",
    "WsHold",
    "WsClose",
    "Step",
    "HTTP_METHODS",
]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def _check_template(value: Any) -> Any:
    """Compile every string to catch malformed placeholders (env values are checked at load)."""
    if isinstance(value, str):
        try:
            compile_template(value, env=_ANY_ENV)
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


class _AnyEnvMap(dict):
    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return ""


_ANY_ENV = _AnyEnvMap()


# ---------------------------------------------------------------- HTTP settings


class Timeouts(_Model):
    """Per-request time limits."""

    connect: Duration = 5.0
    """Time to open a TCP (and TLS) connection."""
    read: Duration | None = None
    """Time to wait for the next bytes of a response. Unset: only ``total`` applies (a per-read timer
    costs ~5-10 us of CPU a request)."""
    total: Duration = 60.0
    """Time for the whole request, connection included."""


class HttpSettings(_Model):
    """How requests are sent."""

    verify_tls: bool = True
    """Verify TLS certificates. Turning it off makes the run warn once."""
    http2: bool = False
    """Use HTTP/2 (through httpx). HTTP/1.1 load goes through aiohttp, which costs far less CPU."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Headers sent with every request; use ``${env:NAME}`` for tokens, which are then redacted."""
    timeouts: Timeouts = Field(default_factory=Timeouts)
    """Connect, read and total time limits."""
    max_connections: int = Field(default=0, ge=0)
    """Cap on open HTTP connections per worker; 0 means one per virtual user (no cap)."""

    _v_headers = field_validator("headers")(classmethod(lambda cls, v: _check_template(v)))


# ---------------------------------------------------------------- load model


class ThinkTime(_Model):
    """A random pause between ``min`` and ``max`` after each iteration."""

    min: Duration = 0.0
    max: Duration = 0.0

    @model_validator(mode="after")
    def _ordered(self) -> "ThinkTime":
        if self.max < self.min:
            raise ValueError("think_time.max must not be smaller than think_time.min")
        return self


class Stage(_Model):
    """One step of a ramp: move to ``target`` users (closed) or iterations/s (open) over ``duration``."""

    duration: Duration
    target: float = Field(ge=0, le=1_000_000)

    @field_validator("duration")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("a stage needs a duration above zero")
        return v


class LoadModel(_Model):
    """Who sends the load: virtual users (closed) or a fixed arrival rate (open)."""

    model: Literal["closed", "open"] = "closed"
    """``closed``: ``users`` loop over scenarios. ``open``: ``rate`` iterations start each second."""
    users: int = Field(default=10, ge=1, le=1_000_000)
    """Closed model: virtual users at full strength."""
    spawn_rate: float = Field(default=1.0, gt=0)
    """Closed model: users started per second until ``users`` run."""
    think_time: Duration | ThinkTime = 0.0
    """Closed model: pause after each iteration, fixed (``"1s"``) or random (``{min="0.5s", max="2s"}``)."""
    rate: float = Field(default=10.0, gt=0, le=1_000_000)
    """Open model: iterations started per second."""
    max_in_flight: int = Field(default=1000, ge=1)
    """Open model: cap on iterations in flight; arrivals beyond it are counted as dropped."""
    stages: list[Stage] = Field(default_factory=list)
    """Optional ramp: a list of (duration, target). Overrides ``spawn_rate`` (closed) or ``rate`` (open)."""

    @property
    def think_range(self) -> tuple[float, float]:
        t = self.think_time
        return (t, t) if isinstance(t, float) else (t.min, t.max)

    @property
    def peak(self) -> float:
        """Most users (closed) or highest rate (open) the run asks for."""
        base = self.users if self.model == "closed" else self.rate
        return max([s.target for s in self.stages] or [base])


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
    """Text the body must contain."""

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
        fields = [self.path, self.body, self.query, self.headers, self.json_body, self.check.json_equals]
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


# ---------------------------------------------------------------- profile


class Profile(_Model):
    """A load profile."""

    name: str = "profile"
    description: str = ""
    target: str = "builtin"
    """Base URL (``http://localhost:8000``) or ``"builtin"`` for the demo target."""
    duration: Duration | None = None
    """Total run time; with stages and no duration, the sum of the stages."""
    vars: dict[str, Any] = Field(default_factory=dict)
    """Variables every virtual user starts with (templates allowed)."""
    http: HttpSettings = Field(default_factory=HttpSettings)
    load: LoadModel = Field(default_factory=LoadModel)
    scenarios: list[Scenario] = Field(min_length=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    on_worker_loss: Literal["continue", "stop"] = "continue"
    """When a worker process dies mid-run: carry on with the others (the report marks the gap) or stop."""

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if v == "builtin":
            return v
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError(f"'{v}' is not a base URL: write http://host:port or \"builtin\"")
        if "://" in v and not v.split("://", 1)[1].split("/")[0]:
            raise ValueError(f"'{v}' has no host")
        return v.rstrip("/")

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("duration must be above zero")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Profile":
        if not any(s.weight > 0 for s in self.scenarios):
            raise ValueError("scenarios: at least one scenario needs a weight above 0")
        names = [s.name for s in self.scenarios]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"scenarios: names must be unique ({', '.join(sorted(dupes))} repeated)")
        for i, scenario in enumerate(self.scenarios):
            try:
                scenario.check_variables(set(self.vars))
            except ValueError as exc:
                raise ValueError(f"scenarios.{i}.{exc}") from None
        staged = sum(s.duration for s in self.load.stages)
        if self.duration is None:
            if not self.load.stages:
                raise ValueError("duration: is required (e.g. duration = \"1m\"), or give load.stages")
            self.duration = staged
        if self.load.stages and staged > self.duration + 1e-9:
            raise ValueError(
                f"load.stages: add up to {staged:g}s, longer than duration ({self.duration:g}s)"
            )
        self.thresholds.check_names(self.metric_names())
        return self

    def metric_names(self) -> dict[str, set[str]]:
        """Stats names per kind that this profile can produce (thresholds must name one of these)."""
        out: dict[str, set[str]] = {"http": set(), "ws_connect": set(), "ws_ping": set(), "ws_message": set()}
        for scenario in self.scenarios:
            for step in scenario.steps:
                if isinstance(step, HttpStep):
                    out["http"].add(step.stats_name)
                elif isinstance(step, WsConnect):
                    out["ws_connect"].add(step.stats_name)
                    if step.heartbeat:
                        out["ws_ping"].add(step.stats_name)
                elif isinstance(step, WsWait):
                    out["ws_message"].add(step.name)
        return out

    @property
    def ramp_seconds(self) -> float:
        if self.load.stages:
            return 0.0
        if self.load.model == "closed":
            return self.load.users / self.load.spawn_rate
        return 0.0

