"""The WebSocket steps compiled for the hot path: ``ws_connect``, ``ws_send``, ``ws_wait``, ``ws_hold``,
``ws_close`` (the HTTP step and what every step shares are in :mod:`.steps`)."""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from typing import Any

from ..metrics.snapshot import KIND_WS_CONNECT, KIND_WS_MESSAGE, KIND_WS_PING
from ..profile.models import WsClose, WsConnect, WsHold, WsSend, WsWait
from ..profile.templates import Template, Typed, compile_template, compile_value, render_value
from .clients.ws import WsConnection
from .delivery import MatchFloor, StampReader
from .flow import handshake
from .jsonpath import MISSING as _MISSING, json_path
from .steps import Engine, User, _render_map, _Step, compile_steps

__all__ = ["WsOpen", "WsSendStep", "WsWaitStep", "WsHoldStep", "WsCloseStep"]


class WsOpen(_Step):
    def __init__(self, step: WsConnect, eng: Engine) -> None:
        self.eng = eng
        self.step = step
        path = step.path
        self.url = compile_template(path, url=True)
        if not path.startswith(("ws://", "wss://")):
            self.url = self.url.prefixed(eng.ws_base)
        self.headers = {k: compile_template(v) for k, v in step.headers.items()}
        self.connect_rec = self.skip_rec = eng.recorder.endpoint(KIND_WS_CONNECT, step.stats_name, "WS")
        self.ping_rec = eng.recorder.endpoint(KIND_WS_PING, step.stats_name, "WSPING") if step.heartbeat else None
        self.on_connect = compile_steps(step.on_connect, eng) if step.on_connect else None
        for inner in self.on_connect or ():
            getattr(inner, "inner", inner).handshake = True

    def now(self, user: User) -> Any:
        """True at once when the user's socket is open (every iteration but the first), else ``run``."""
        if user.ws is None:
            return self.run(user)
        user.step_start_ns = time.perf_counter_ns()
        return True

    async def run(self, user: User) -> bool:
        user.step_start_ns = time.perf_counter_ns()
        if user.ws is not None:
            return True
        s = self.step
        try:
            url, headers = self.url.render(user.vars), _render_map(self.headers, user.vars) or {}
        except KeyError:
            self.connect_rec.skipped += 1
            return False
        conn = WsConnection(
            url, headers, self.eng.ws_stats, self.connect_rec, self.ping_rec, s.heartbeat, s.reconnect,
            s.backoff_max, s.connect_timeout, s.max_message_size, self.eng.ws_proxies,
            self.eng.heartbeats(s.heartbeat), self.eng.ws_tls() if url.startswith("wss:") else None,
            self.eng.http.client_cert, self.eng.ws_arrivals,
        )
        user.ws = conn
        if self.on_connect is None:
            return await conn.open()
        steps, gate = self.on_connect, asyncio.Event()
        conn.gate = gate

        def again() -> asyncio.Future[bool]:
            gate.clear()  # at once: no step of the user's may send before the handshake
            return asyncio.ensure_future(handshake(steps, user, gate))

        conn.on_reconnect = again
        if not await conn.open():
            gate.set()
            return False
        return await handshake(steps, user, gate)


class WsSendStep(_Step):
    handshake = False
    """One of a ``ws_connect``'s ``on_connect`` steps (it does not wait for the handshake to finish)."""

    def __init__(self, step: WsSend, eng: Engine) -> None:
        self.text = compile_template(step.text) if step.text is not None else None
        self.json = compile_value(step.json_body, typed=True) if step.json_body is not None else None

    def now(self, user: User) -> Any:
        """The send, without a coroutine unless it must wait (for a handshake, or the write buffer)."""
        conn = user.ws
        if conn is None or (conn.gate is not None and not self.handshake and not conn.gate.is_set()):
            return self.run(user)
        user.step_start_ns = time.perf_counter_ns()
        try:
            text = self.text.render(user.vars) if self.text is not None else jsonlib.dumps(render_value(self.json, user.vars))
        except KeyError:
            return False
        return conn.send_text(text)

    async def run(self, user: User) -> bool:
        user.step_start_ns = time.perf_counter_ns()
        conn = user.ws
        if conn is None:
            return False
        try:
            text = self.text.render(user.vars) if self.text is not None else jsonlib.dumps(render_value(self.json, user.vars))
        except KeyError:
            return False
        gate = conn.gate
        if gate is not None and not self.handshake and not gate.is_set():
            await gate.wait()  # a reconnect's on_connect steps go first
        return await conn.send(text)


def _first_match(buffer: Any, start: int, matches: Any, *args: Any) -> Any:
    """The oldest message that arrived at or after ``start`` (ns) and ``matches(msg, *args)``, or None.

    The buffer is in arrival order: only the messages newer than ``start`` are looked at, found from the
    newest end (an echo scenario has one; copying and walking all 512 kept messages per wait cost more
    than the echo itself)."""
    n = len(buffer)
    i = n
    while i > 0 and buffer[i - 1].t_ns >= start:
        i -= 1
    for k in range(i, n):
        msg = buffer[k]
        if matches(msg, *args):
            return msg
    return None


class WsWaitStep(_Step):
    def __init__(self, step: WsWait, eng: Engine) -> None:
        self.match = {k: compile_value(v) for k, v in step.match.items()}
        self.contains = compile_template(step.contains) if step.contains else None
        self.timeout_ns = int(step.timeout * 1e9)
        self.since_previous = step.since == "previous"
        self.rec = self.skip_rec = eng.recorder.endpoint(KIND_WS_MESSAGE, step.name, "WSMSG")
        self.stamp = StampReader(step.stamp, step.stamp_unit, step.stamp_clock) if step.stamp else None
        """Records each matched message's delivery from its send stamp (:mod:`.delivery`)."""
        self.floor = MatchFloor() if self.since_previous else None
        """Keeps a repeated ``since = "previous"`` wait from matching the same message twice."""
        self.deadlines = eng.wait_deadlines
        fixed = all(isinstance(v, Template) and v.is_static or not isinstance(v, (Template, Typed, dict, list))
                    for v in self.match.values())
        self.want = {k: render_value(v, {}) for k, v in self.match.items()} if fixed and self.match else None
        """``match`` rendered once when it has no template in it (most do not)."""

    async def run(self, user: User) -> bool:
        """The oldest message since the start (this step's, or the previous step's) that matches; else wait
        for the next: the connection resolves a future of ours as a message arrives (one task switch from
        the socket), the worker's sweep of wait deadlines (:mod:`.deadlines`) resolves it at the timeout."""
        now = time.perf_counter_ns()
        start = user.step_start_ns if self.since_previous and user.step_start_ns else now
        user.step_start_ns = now
        conn = user.ws
        if conn is None:
            self.rec.failure(0, "ws closed", "no open WebSocket")
            return False
        try:
            want = self.want if self.want is not None or not self.match else {
                k: render_value(v, user.vars) for k, v in self.match.items()}
            needle = self.contains.render(user.vars) if self.contains is not None else None
        except KeyError:
            self.rec.skipped += 1
            return False
        deadline = now + self.timeout_ns
        look = self.floor.start(conn, start) if self.floor is not None else start
        matches = self._matches
        slot = None
        try:
            while True:
                msg = _first_match(conn.buffer, look, matches, want, needle)
                if msg is not None:
                    at = msg.at_ns  # arrival; it can precede the start where the read came after it
                    self.rec.success(at - start if at > start else 0, len(msg.text))
                    if self.floor is not None:
                        self.floor.matched(conn, msg)
                    if self.stamp is not None:
                        self.stamp.record(msg, self.rec)
                    return True
                left = deadline - time.perf_counter_ns()
                if left <= 0:
                    self.rec.failure(time.perf_counter_ns() - start, "timeout", "no matching message in time")
                    return False
                fut = conn.loop.create_future()
                waiters = conn.waiters
                waiters.append(fut)
                if slot is None:  # the worker's sweep wakes it at the deadline (no timer per wait)
                    slot = self.deadlines.take(self.timeout_ns, deadline)
                slot.waiter = fut
                try:
                    await fut
                finally:
                    if waiters and fut in waiters:  # woken by the sweep, or cancelled: not by a message
                        waiters.remove(fut)
        finally:
            if slot is not None:
                slot.end()

    @staticmethod
    def _matches(msg: Any, want: dict[str, Any] | None, needle: str | None) -> bool:
        if needle is not None and needle not in msg.text:
            return False
        if want:
            doc = msg.json
            for path, value in want.items():
                got = json_path(doc, path)
                if got is _MISSING or (got != value and str(got) != str(value)):
                    return False
        return True


class WsHoldStep(_Step):
    def __init__(self, step: WsHold, eng: Engine) -> None:
        self.seconds = step.duration

    async def run(self, user: User) -> bool:
        """One sleep for the whole hold (10,000 holding users must not mean 40,000 wake-ups a second);
        the load model cancels a holding user when it stops or retires it."""
        user.step_start_ns = time.perf_counter_ns()
        if user.stopping:
            return True
        user.holding = True
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            if not user.stopping:
                raise
        finally:
            user.holding = False
        return True


class WsCloseStep(_Step):
    def __init__(self, step: WsClose, eng: Engine) -> None:
        pass

    async def run(self, user: User) -> bool:
        await user.close()
        return True
