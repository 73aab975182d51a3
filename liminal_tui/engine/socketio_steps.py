"""Socket.IO steps in the engine, on python-socketio's AsyncClient (imported only when a profile uses them).

Each user keeps one client (WebSocket transport, no automatic reconnection: a drop is counted on the
connect's endpoint as ``sio disconnect`` and later steps fail until a ``socketio_connect`` runs again).
Events are buffered with their arrival time, as WebSocket messages are (see :mod:`.ws`), so a wait placed
after the emit that caused an event still sees it. An https:// target connects with the worker's TLS
context from ``[http]`` (``ca_bundle``, ``client_cert``, ``verify_tls``: :meth:`.steps.Engine.ws_tls`, the
one wss:// uses), handed to aiohttp's ``ws_connect`` through engineio's ``websocket_extra_options``; its
failures are the ``tls error`` every client names (:func:`.clients.tls.describe`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import Any

from ..profile.socketio_models import SioClose, SioConnect, SioEmit, SioWait
from ..profile.templates import compile_template, compile_value, render_value
from .clients.tls import TLS_ERROR, connect_failure, watch
from .jsonpath import MISSING, json_path
from ..metrics.snapshot import KIND_WS_CONNECT, KIND_WS_MESSAGE

__all__ = ["SioConnection", "SioOpen", "SioEmitStep", "SioWaitStep", "SioCloseStep", "COMPILERS"]

BUFFER = 512


class SioConnection:
    """One user's Socket.IO client and the events it received (newest last, bounded)."""

    def __init__(self, namespace: str, rec: Any, ws_stats: Any, tls: ssl.SSLContext | None = None) -> None:
        import socketio

        self.namespace = namespace
        self.rec = rec
        self.stats = ws_stats
        # engineio gives the caller's options precedence over its own (``ssl_verify``): one context for all
        self.client = socketio.AsyncClient(reconnection=False, websocket_extra_options={"ssl": tls} if tls else None)
        self.buffer: deque[tuple[int, str, Any]] = deque(maxlen=BUFFER)
        self.arrived = asyncio.Event()
        self.closing = False
        self.opened_ns = 0
        self.client.on("*", self._event, namespace=namespace)
        self.client.on("disconnect", self._disconnected, namespace=namespace)

    async def _event(self, event: str, *args: Any) -> None:
        self.buffer.append((time.perf_counter_ns(), event, args[0] if len(args) == 1 else list(args)))
        self.stats.messages_in += 1
        self.stats.messages_timed_at_read += 1  # engineio reads the socket: no arrival stamp
        self.arrived.set()

    async def _disconnected(self, *reason: Any) -> None:
        if not self.closing:
            self.stats.drops += 1
            self.rec.failure(time.perf_counter_ns() - self.opened_ns, "sio disconnect", f"disconnected: {reason[0] if reason else ''}")
        self.stats.open -= 1
        self.arrived.set()

    async def close(self) -> None:
        self.closing = True
        try:
            await asyncio.wait_for(self.client.disconnect(), 2.0)
        except (asyncio.TimeoutError, OSError, RuntimeError) as exc:
            self.rec.failure(0, "sio close error", f"{type(exc).__name__}: {exc}")


class SioOpen:
    ends_iteration = True

    def __init__(self, step: SioConnect, eng: Any) -> None:
        import socketio  # noqa: F401  (now, before the load starts: not inside the first connect's time)

        self.eng = eng
        self.step = step
        self.base = eng.base_url
        self.headers = {k: compile_template(v) for k, v in step.headers.items()}
        self.auth = compile_value(step.auth, typed=True) if step.auth else None
        self.rec = self.skip_rec = eng.recorder.endpoint(KIND_WS_CONNECT, step.stats_name, "SIO")
        self.tls: ssl.SSLContext | None = eng.ws_tls() if self.base.startswith("https://") else None
        self.client_cert = eng.http.client_cert

    def skip(self) -> None:
        self.rec.skipped += 1

    async def run(self, user: Any) -> bool:
        from socketio.exceptions import ConnectionError as SioError

        user.step_start_ns = time.perf_counter_ns()
        conn = user.sio
        if conn is not None and conn.client.connected:
            return True
        try:
            headers = {k: t.render(user.vars) for k, t in self.headers.items()}
            auth = render_value(self.auth, user.vars) if self.auth is not None else None
        except KeyError:
            self.rec.skipped += 1
            return False
        conn = SioConnection(self.step.namespace, self.rec, self.eng.ws_stats, self.tls)
        user.sio = conn
        marker = watch() if self.tls is not None else None
        start = time.perf_counter_ns()
        try:
            await asyncio.wait_for(conn.client.connect(
                self.base, headers=headers, auth=auth, transports=["websocket"], namespaces=[self.step.namespace],
                socketio_path=self.step.path.strip("/"), wait_timeout=self.step.connect_timeout,
            ), self.step.connect_timeout + 1)
        except (SioError, asyncio.TimeoutError, OSError) as exc:
            self.rec.failure(time.perf_counter_ns() - start, *self._failure(exc, marker))
            return False
        conn.opened_ns = time.perf_counter_ns()
        self.rec.success(conn.opened_ns - start, 0, 101)
        self.eng.ws_stats.open += 1
        self.eng.ws_stats.connects += 1
        return True


    def _failure(self, exc: BaseException, marker: list | None) -> tuple[str, str]:
        """A failed connect's name and message: a TLS failure (python-socketio's ``ConnectionError`` chains
        engineio's, which chains aiohttp's, which chains the ``ssl`` error) is named as every client names it."""
        tls = connect_failure(exc, marker, self.client_cert)
        if tls is not None:
            return TLS_ERROR, tls
        return "sio connect error", f"{type(exc).__name__}: {exc}"


def _conn(user: Any) -> SioConnection | None:
    conn = user.sio
    return conn if conn is not None and conn.client.connected else None


class SioEmitStep:
    ends_iteration = True
    skip_rec = None

    def __init__(self, step: SioEmit, eng: Any) -> None:
        self.step = step
        self.data = compile_value(step.data, typed=True) if step.data is not None else None
        self.eng = eng
        self.rec = eng.recorder.endpoint(KIND_WS_MESSAGE, step.ack, "SIOACK") if step.ack else None
        self.skip_rec = self.rec

    def skip(self) -> None:
        if self.rec is not None:
            self.rec.skipped += 1

    async def run(self, user: Any) -> bool:
        user.step_start_ns = time.perf_counter_ns()
        conn = _conn(user)
        if conn is None:
            if self.rec is not None:
                self.rec.failure(0, "sio closed", "no connected Socket.IO client")
            return False
        try:
            data = render_value(self.data, user.vars) if self.data is not None else None
        except KeyError:
            self.skip()
            return False
        self.eng.ws_stats.messages_out += 1
        if self.rec is None:
            await conn.client.emit(self.step.event, data, namespace=conn.namespace)
            return True
        start = time.perf_counter_ns()
        try:
            await conn.client.call(self.step.event, data, namespace=conn.namespace, timeout=self.step.timeout)
        except Exception as exc:  # python-socketio raises TimeoutError or BadNamespaceError: counted
            name = "timeout" if "Timeout" in type(exc).__name__ else "sio error"
            self.rec.failure(time.perf_counter_ns() - start, name, f"no ack for {self.step.event!r}: {type(exc).__name__}")
            return False
        self.rec.success(time.perf_counter_ns() - start)
        return True


class SioWaitStep:
    ends_iteration = True

    def __init__(self, step: SioWait, eng: Any) -> None:
        self.event = step.event
        self.match = {k: compile_value(v) for k, v in step.match.items()}
        self.timeout_ns = int(step.timeout * 1e9)
        self.since_previous = step.since == "previous"
        self.rec = self.skip_rec = eng.recorder.endpoint(KIND_WS_MESSAGE, step.name, "SIOMSG")

    def skip(self) -> None:
        self.rec.skipped += 1

    async def run(self, user: Any) -> bool:
        now = time.perf_counter_ns()
        start = user.step_start_ns if self.since_previous and user.step_start_ns else now
        user.step_start_ns = now
        conn = _conn(user)
        if conn is None:
            self.rec.failure(0, "sio closed", "no connected Socket.IO client")
            return False
        try:
            want = {k: render_value(v, user.vars) for k, v in self.match.items()}
        except KeyError:
            self.rec.skipped += 1
            return False
        deadline = now + self.timeout_ns
        while True:
            for t_ns, event, data in list(conn.buffer):
                if t_ns >= start and event == self.event and _matches(data, want):
                    self.rec.success(t_ns - start)
                    return True
            left = deadline - time.perf_counter_ns()
            if left <= 0:
                self.rec.failure(time.perf_counter_ns() - start, "timeout", f"no matching {self.event!r} in time")
                return False
            conn.arrived.clear()
            try:
                await asyncio.wait_for(conn.arrived.wait(), left / 1e9)
            except asyncio.TimeoutError:  # the deadline: the check above records the timeout failure
                continue


def _matches(data: Any, want: dict[str, Any]) -> bool:
    for path, value in want.items():
        got = json_path(data, path)
        if got is MISSING or (got != value and str(got) != str(value)):
            return False
    return True


class SioCloseStep:
    ends_iteration = True
    skip_rec = None

    def __init__(self, step: SioClose, eng: Any) -> None:
        pass

    def skip(self) -> None:
        pass

    async def run(self, user: Any) -> bool:
        conn, user.sio = user.sio, None
        if conn is not None:
            await conn.close()
        return True


COMPILERS = {SioConnect: SioOpen, SioEmit: SioEmitStep, SioWait: SioWaitStep, SioClose: SioCloseStep}
