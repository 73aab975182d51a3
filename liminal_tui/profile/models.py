"""The profile format. These models are its single definition: read them as the TOML reference.

A profile, top to bottom::

    name = "smoke"                 # shown in reports and on screen
    target = "builtin"             # a base URL, or "builtin" for the demo target
    duration = "1m"

    [http]                         # HttpSettings
    [load]                         # LoadModel: closed (users) or open (rate), optional [[load.stages]]
    [[scenarios]]                  # Scenario, each with [[scenarios.steps]] (see steps.py)
    [thresholds]                   # pass/fail rules, see thresholds.py
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import _Model, _check_template
from .durations import Duration
from .flow_models import DataFile
from .socketio_models import SioConnect, SioEmit, SioWait
from .templates import BUILTIN_NAMES, template_variables
from .steps import (
    HTTP_METHODS,
    Check,
    HttpStep,
    Scenario,
    Step,
    WsClose,
    WsConnect,
    WsHold,
    WsSend,
    WsWait,
)
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
    """Use HTTP/2 for https:// targets whose server offers it (ALPN ``h2``): the built-in client multiplexes
    the users' requests as streams over few connections per worker (``http2_streams``). http:// targets
    (unless ``http2_cleartext``), and servers that choose HTTP/1.1, go through the HTTP/1.1 client that
    ``client`` picks.
    With ``client = "httpx"``, httpx does it instead (~15 times the CPU a request)."""
    http2_cleartext: bool = False
    """With ``http2``: speak HTTP/2 to http:// targets too, from the first byte (h2c with prior knowledge,
    no upgrade), for servers known to (gRPC-style backends, proxies' h2c ports). Against a server that does
    not, requests fail (``bad response`` or ``server disconnected``). Off: http:// is HTTP/1.1."""
    http2_streams: int = Field(default=100, ge=1, le=1000)
    """HTTP/2: most requests in flight on one connection before another is opened (the server's
    ``max_concurrent_streams`` lowers it; ``max_connections`` caps the connections, further requests
    then wait for a stream). 100: one connection per worker up to 100 users per worker."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Headers sent with every request; use ``${env:NAME}`` for tokens, which are then redacted."""
    timeouts: Timeouts = Field(default_factory=Timeouts)
    """Connect, read and total time limits."""
    max_connections: int = Field(default=0, ge=0)
    """Cap on open HTTP connections per worker; 0 means one per virtual user (no cap)."""
    cookies: bool = True
    """Each virtual user keeps a cookie jar, as a browser (or a Locust user) does: a login's session cookie
    is sent with the requests that follow. A user starts with an empty jar. Off: no cookie is kept."""
    follow_redirects: bool = True
    """Follow 301/302/303/307/308 as requests and Locust do (301-303 turn a POST into a GET, 307/308 keep
    method and body; ``Authorization`` is dropped when the host changes). The step is one sample, timed to
    the final response, which its checks see; each hop is counted as a redirect of the endpoint."""
    max_redirects: int = Field(default=10, ge=0, le=100)
    """Most redirects one step follows; one more is the failure ``too many redirects``."""
    client: Literal["auto", "aiohttp", "fast", "httpx"] = "auto"
    """Which client: "auto" = the built-in fast client (httptools, the loop's own TLS) for http:// and
    https://, and the built-in HTTP/2 client (``h2``) when ``http2 = true``; "aiohttp" = aiohttp for
    HTTP/1.1; "fast" = same as auto; "httpx" = httpx for everything (HTTP/2 when ``http2 = true``)."""
    ca_bundle: str | None = None
    """PEM file of CA certificates to verify the target's certificate with, instead of the system trust
    store (an internal CA, a self-signed test certificate). A path, ``~`` expanded, relative to the
    working directory."""
    client_cert: str | None = None
    """PEM certificate (chain) to present for mutual TLS; its key in the same file or in ``client_key``."""
    client_key: str | None = None
    """PEM private key of ``client_cert``, when it is not in the same file. Checked before the run: a key
    that does not fit the certificate is an error naming this key."""
    timings: bool = True
    """Record, per endpoint, TCP connect and TLS handshake times (requests that opened a connection) and
    time to first byte, as histograms beside the total (the fast and HTTP/2 clients; about 0.4 us of CPU a
    request)."""

    @model_validator(mode="after")
    def _key_needs_cert(self) -> "HttpSettings":
        if self.client_key and not self.client_cert:
            raise ValueError("http.client_key needs http.client_cert (the certificate the key belongs to)")
        return self

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
    """Variables every virtual user starts with (templates allowed), rendered once per worker: every user
    of a worker shares the values (a ``${uuid}`` here is one UUID for all; use ``[user_vars]`` for one
    each). They cannot use ``${user}``, ``${iteration}`` or other variables."""
    user_vars: dict[str, Any] = Field(default_factory=dict)
    """Variables rendered for each virtual user when it starts: ``[user_vars]`` ``device = "${uuid}"``,
    ``email = "user${user}@example.com"`` (may use ``${user}``, ``[vars]`` and ``[[data]]`` rows)."""
    data: list[DataFile] = Field(default_factory=list)
    """Data feeders (``[[data]]``): rows of a CSV or JSON-lines file as a variable, see :class:`DataFile`."""
    seed: int | None = None
    """Seed for the random template values (``randint``, ``choice``, ``randstr``, ``pick``, ``fake:*``),
    the scenario picks and ``random`` data rows: with a seed, two runs draw the same values (worker k uses
    ``seed + k``). Unset: different each run."""
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
        for name, value in self.http.headers.items():
            used = template_variables(value) | _per_user(value)
            if used:
                raise ValueError(
                    f"http.headers.{name}: uses ${{{sorted(used)[0]}}}, but [http].headers are rendered once per "
                    f"worker, before any user or step: set this header on the steps that need it"
                )
        for name, value in self.vars.items():
            used = template_variables(value) | _per_user(value)
            if used:
                raise ValueError(
                    f"vars.{name}: uses ${{{sorted(used)[0]}}}, but [vars] are rendered once per worker, "
                    f"before any user exists: put it in [user_vars]"
                )
        user_known = set(BUILTIN_NAMES) | set(self.vars) | {d.name for d in self.data}
        for name, value in self.user_vars.items():
            missing = template_variables(value) - user_known
            if missing:
                raise ValueError(f"user_vars.{name}: uses ${{{sorted(missing)[0]}}}, which has no value when a "
                                 f"user starts (only [vars], [[data]] names, user and earlier user_vars)")
            user_known.add(name)
        names = [d.name for d in self.data]
        if len(set(names)) != len(names):
            raise ValueError("data: each [[data]] needs its own name")
        for i, scenario in enumerate(self.scenarios):
            try:
                scenario.check_variables(user_known)
            except ValueError as exc:
                raise ValueError(f"scenarios.{i}.{exc}") from None
            self._check_absolute_paths(i, scenario)
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

    def _check_absolute_paths(self, index: int, scenario: Scenario) -> None:
        """A path must render to ``/...`` or to an absolute URL (used as it is); with [vars] known, say
        now what it renders to when it is neither (``api/x`` or ``v1${base}`` would be glued to the target)."""
        from .templates import ANY_ENV, compile_template

        sample = _Anything({k: v for k, v in self.vars.items() if isinstance(v, str)})
        for part, steps in (("setup", scenario.setup), ("steps", scenario.steps), ("teardown", scenario.teardown)):
            for i, step in enumerate(steps):
                if not isinstance(step, (HttpStep, WsConnect)) or "${" not in step.path:
                    continue
                tpl = compile_template(step.path, env=ANY_ENV, url=True)
                if tpl.variables - set(self.vars) and step.path.startswith("${"):
                    continue  # starts with a value taken from a response: known only at run time
                try:
                    rendered = tpl.render(sample)
                except KeyError:  # a function of a value known only at run time (${pick:ids})
                    continue
                if not rendered.startswith(("/", "http://", "https://", "ws://", "wss://")):
                    raise ValueError(
                        f"scenarios.{index}.{part}.{i}.path: '{step.path}' renders to '{rendered}', neither a "
                        f"path starting with / nor an absolute URL (http://, https://)"
                    )

    def metric_names(self) -> dict[str, set[str]]:
        """Stats names per kind that this profile can produce (thresholds must name one of these)."""
        out: dict[str, set[str]] = {"http": set(), "ws_connect": set(), "ws_ping": set(), "ws_message": set()}
        for scenario in self.scenarios:
            for step in scenario.all_steps():
                if isinstance(step, HttpStep):
                    out["http"].add(step.stats_name)
                elif isinstance(step, WsConnect):
                    out["ws_connect"].add(step.stats_name)
                    if step.heartbeat:
                        out["ws_ping"].add(step.stats_name)
                elif isinstance(step, WsWait):
                    out["ws_message"].add(step.name)
                elif isinstance(step, SioConnect):
                    out["ws_connect"].add(step.stats_name)
                elif isinstance(step, SioWait) or (isinstance(step, SioEmit) and step.ack):
                    out["ws_message"].add(step.name if isinstance(step, SioWait) else step.ack or "")
        return out

    def endpoints(self) -> list[tuple[str, str, str]]:
        """(kind, stats name, method) of every endpoint this profile can produce, in step order."""
        out: dict[tuple[str, str], str] = {}
        for scenario in self.scenarios:
            for step in scenario.all_steps():
                if isinstance(step, HttpStep):
                    out.setdefault(("http", step.stats_name), step.method)
                elif isinstance(step, WsConnect):
                    out.setdefault(("ws_connect", step.stats_name), "WS")
                    if step.heartbeat:
                        out.setdefault(("ws_ping", step.stats_name), "WSPING")
                elif isinstance(step, WsWait):
                    out.setdefault(("ws_message", step.name), "WSMSG")
                elif isinstance(step, SioConnect):
                    out.setdefault(("ws_connect", step.stats_name), "SIO")
                elif isinstance(step, SioWait):
                    out.setdefault(("ws_message", step.name), "SIOMSG")
                elif isinstance(step, SioEmit) and step.ack:
                    out.setdefault(("ws_message", step.ack), "SIOACK")
        return [(kind, name, method) for (kind, name), method in out.items()]

    @property
    def ramp_seconds(self) -> float:
        if self.load.stages:
            return 0.0
        if self.load.model == "closed":
            return self.load.users / self.load.spawn_rate
        return 0.0



class _Anything(dict):
    """[vars] values by name; any other variable renders as ``x`` (only the path's shape matters)."""

    def __missing__(self, key: str) -> str:
        return "x"


def _per_user(value: Any) -> set[str]:
    """``user`` / ``iteration`` where ``value`` uses them (they have no value before a user exists)."""
    import re

    if isinstance(value, str):
        return set(re.findall(r"\$\{\s*(user|iteration)\s*\}", value))
    if isinstance(value, dict):
        return set().union(*(_per_user(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_per_user(v) for v in value))
    return set()
