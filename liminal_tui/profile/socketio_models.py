"""Socket.IO steps (part of the profile format): connect to a namespace, emit (with ack timing), wait for an event.

Measured like WebSocket steps: the connect under ``ws_connect`` (name ``"SIO path"`` by default), an
acknowledged emit and an awaited event under ``ws_message`` with the step's ``name``. Needs
``pip install 'liminal-tui[socketio]'`` (python-socketio, imported only when a profile uses these steps).

Example::

    [[scenarios.steps]]
    type = "socketio_connect"
    namespace = "/chat"
    auth = { token = "${token}" }
    [[scenarios.steps]]
    type = "socketio_emit"
    event = "join"
    data = { room = "lobby" }
    ack = "join ack"              # time the acknowledgement under this name
    [[scenarios.steps]]
    type = "socketio_wait"
    event = "message"
    name = "lobby message"
    match = { room = "lobby" }
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ._base import _Model, _check_template
from .durations import Duration
from .templates import template_variables

__all__ = ["SioConnect", "SioEmit", "SioWait", "SioClose"]

OnFailure = Literal["end_iteration", "continue"]


class SioConnect(_Model):
    """Connect a Socket.IO client (kept by the user until ``socketio_close`` or its end); WebSocket transport."""

    type: Literal["socketio_connect"]
    path: str = "/socket.io"
    """Where the server mounts Socket.IO (python-socketio and socket.io default ``/socket.io``)."""
    namespace: str = "/"
    """The namespace to connect to."""
    name: str | None = None
    """Stats name; default ``"SIO path namespace"``."""
    headers: dict[str, str] = Field(default_factory=dict)
    auth: dict[str, Any] = Field(default_factory=dict)
    """Data sent with the connect (``auth = { token = "${token}" }``, templates allowed)."""
    connect_timeout: Duration = 10.0
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    _v = field_validator("headers", "auth")(classmethod(lambda cls, v: _check_template(v)))

    @property
    def stats_name(self) -> str:
        return self.name or f"SIO {self.path} {self.namespace}"

    def used_variables(self) -> set[str]:
        return template_variables(self.headers) | template_variables(self.auth)


class SioEmit(_Model):
    """Emit an event; with ``ack``, wait for the server's acknowledgement and time it under that name."""

    type: Literal["socketio_emit"]
    event: str
    data: Any = None
    """The event's payload (any TOML value; a value that is exactly one template keeps its type)."""
    ack: str | None = None
    """Stats name of the acknowledgement's round trip; unset: fire and forget."""
    timeout: Duration = 5.0
    """How long to wait for the acknowledgement."""
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    _v = field_validator("data")(classmethod(lambda cls, v: _check_template(v)))

    def used_variables(self) -> set[str]:
        return template_variables(self.data)


class SioWait(_Model):
    """Wait for an event whose payload matches; its latency is recorded under ``name``."""

    type: Literal["socketio_wait"]
    name: str
    event: str
    match: dict[str, Any] = Field(default_factory=dict)
    """Fields the payload (a JSON object) must have with these values (templates allowed); empty: any."""
    timeout: Duration = 5.0
    since: Literal["wait", "previous"] = "wait"
    """``previous``: time from the start of the previous step (an emit that caused the event)."""
    on_failure: OnFailure | None = None
    """This step's own ``on_failure``; unset: the scenario's."""

    _v = field_validator("match")(classmethod(lambda cls, v: _check_template(v)))

    def used_variables(self) -> set[str]:
        return template_variables(self.match)


class SioClose(_Model):
    """Disconnect the Socket.IO client."""

    type: Literal["socketio_close"]

    def used_variables(self) -> set[str]:
        return set()
