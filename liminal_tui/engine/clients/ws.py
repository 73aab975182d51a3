"""A virtual user's WebSocket: connect, keep what arrives in a short buffer, heartbeat, reconnect with backoff.

Messages are buffered with their arrival time (``perf_counter_ns``) so that a ``ws_wait`` placed after an
HTTP update still sees an event that arrived before the wait began: broadcast latency is measured from
the update's start to the event's arrival, not to when the user got round to looking. Arrival is the
kernel's stamp of the packet where the socket is read with stamps (:mod:`.ws_arrival`: ws://, Linux), so
not even the worker's own read queue is counted; a heartbeat's round trip ends at its pong's arrival alike.

A message is taken from websockets as its last frame is parsed (``data_received``, see
:mod:`.ws_delivery`): stamped, buffered, counted, and the pending waits woken, in that callback. No task
reads the connection: a wait is one task switch from the socket, as the library's own ``recv()`` is
(a reader task that buffered and then woke the wait made two, and an echo cost 2.7x a bare loop's).

A close by the server with an error code (anything but 1000 normal and 1001 going away) is a failure
``ws close CODE`` on the connect's endpoint, its reason (sanitized where every failure is) as the message,
timed as the connection's life; a message over ``max_message_size`` is the failure ``message too big``
(the connection closes with 1009), a text message that is not UTF-8 the failure ``ws read error`` (the
connection closes with 1007, as websockets' ``recv()`` does). All are also counted as drops, and
reconnected like any drop.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any

from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, WebSocketException
from websockets.frames import Frame, Opcode

from ...metrics.recorder import EndpointRecorder
from .heartbeats import Heartbeats
from .tls import TLS_ERROR, connect_failure, watch
from .ws_arrival import ArrivalBudget
from .ws_delivery import delivering_connection

__all__ = ["WsConnection", "WsStats", "WsMessage"]

BUFFER = 512
"""Messages kept per connection for ``ws_wait`` (the oldest go first)."""
CLOSE_TIMEOUT = 1.0
"""Seconds a closing handshake may take before the socket is simply dropped."""
BACKOFF_BASE = 0.1
"""Seconds before the first reconnect attempt; doubles each attempt up to ``backoff_max``."""
CLEAN_CLOSES = frozenset((1000, 1001))
"""Close codes that are not failures: normal closure, going away (a server shutting down or restarting)."""
TOO_BIG = 1009
INVALID_DATA = 1007


@dataclass(slots=True)
class WsStats:
    """Worker-wide WebSocket counters (ticks read and reset the counts, not ``open``)."""

    open: int = 0
    connects: int = 0
    reconnects: int = 0
    drops: int = 0
    messages_in: int = 0
    messages_out: int = 0
    messages_timed_at_read: int = 0
    """Of ``messages_in``, those timed when the worker read them, not from the kernel's arrival stamp
    (``metrics.snapshot.TIMED_AT_READ_CAUSES``): their latencies hold the worker's own queue too."""

    def take(self) -> tuple[int, int, int, int, int, int]:
        out = (self.connects, self.reconnects, self.drops, self.messages_in, self.messages_out,
               self.messages_timed_at_read)
        self.connects = self.reconnects = self.drops = self.messages_in = self.messages_out = 0
        self.messages_timed_at_read = 0
        return out


class WsMessage:
    """A message as kept for ``ws_wait``: ``t_ns`` when it was read (the order a wait's ``since`` is judged
    by), ``at_ns`` when it arrived (the kernel's stamp, :mod:`.ws_arrival`; the read where there is none),
    both ``perf_counter_ns``."""

    __slots__ = ("t_ns", "at_ns", "text", "_json")

    def __init__(self, t_ns: int, at_ns: int, text: str) -> None:
        self.t_ns = t_ns
        self.at_ns = at_ns
        self.text = text
        self._json: Any = _UNPARSED

    @property
    def json(self) -> Any:
        if self._json is _UNPARSED:
            try:
                self._json = json.loads(self.text)
            except ValueError:
                self._json = None
        return self._json


_UNPARSED = object()
_TEXT, _CONT = Opcode.TEXT, Opcode.CONT

ProxyCache = dict[str, "str | None"]


def proxy_for(url: str, cache: ProxyCache) -> str | None:
    """The proxy websockets would use for ``url`` (from the environment), looked up once per URL and run
    (``cache`` is the run's; a user's URL is usually the same string as every other user's).

    websockets looks it up on every connect (``proxy=True``): scanning the environment twice per
    connection was ~15 % of a worker's CPU while opening 5,000 connections, and parsing the URI for a
    per-origin key still ~6 %."""
    if url not in cache:
        from websockets.proxy import get_proxy
        from websockets.uri import parse_uri

        if len(cache) > 10_000:  # URLs made per user (a template with ${user}): bounded, not a leak
            cache.clear()
        cache[url] = get_proxy(parse_uri(url))
    return cache[url]


class WsConnection:
    """One WebSocket kept by one virtual user."""

    def __init__(
        self, url: str, headers: dict[str, str], stats: WsStats, connect_rec: EndpointRecorder,
        ping_rec: EndpointRecorder | None, heartbeat: float, reconnect: bool, backoff_max: float,
        connect_timeout: float, max_size: int = 16 * 1024 * 1024,
        proxies: ProxyCache | None = None, heartbeats: Heartbeats | None = None,
        ssl_context: ssl.SSLContext | None = None, client_cert: str | None = None,
        arrivals: ArrivalBudget | None = None,
    ) -> None:
        self.url = url
        self.headers = headers
        self.stats = stats
        self.connect_rec = connect_rec
        self.ping_rec = ping_rec
        self.heartbeat = heartbeat
        self.reconnect = reconnect
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.ssl_context = ssl_context
        """For wss://: the worker's context from ``[http]`` (:func:`.tls.build_context`: CA bundle, client
        certificate, ``verify_tls``, sessions), shared with its HTTP client (``Engine.ws_tls``)."""
        self.client_cert = client_cert
        self.arrivals = arrivals
        """The worker's budget of connections read with the kernel's arrival stamps (None: read by uvloop alone)."""
        self.max_size = max_size
        self.proxies: ProxyCache = {} if proxies is None else proxies
        self._opened_ns = 0
        self.buffer: deque[WsMessage] = deque(maxlen=BUFFER)
        self.loop = asyncio.get_running_loop()
        """The loop the connection runs in (``get_running_loop()`` costs a ``getpid()`` a call on 3.11)."""
        self.waiters: list[asyncio.Future[None]] = []
        """The pending ``ws_wait``s' futures: a message (or the connection closing) resolves them all."""
        self.floors: dict[object, int] = {}
        """Per ``ws_wait`` step (its :class:`~..delivery.MatchFloor`): the arrival of the message it last matched here."""
        self._parts: list[Any] | None = None
        """The frames so far of a fragmented message (None: none in progress)."""
        self._parts_text = False
        self._ws: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.gate: asyncio.Event | None = None
        """Set while no ``on_connect`` handshake is running (None: the step has none)."""
        self.on_reconnect: Any = None
        """Called after each reconnect (a ``ws_connect``'s ``on_connect`` steps); returns a task."""
        self._beats: Heartbeats | None = None
        if heartbeat > 0 and ping_rec is not None:
            self._beats = heartbeats if heartbeats is not None and heartbeats.interval == heartbeat else Heartbeats(heartbeat)
        self._ping: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def open(self) -> bool:
        """Connect once (recording the time); start the watch (drops, reconnects) and heartbeat. False when it failed."""
        ok = await self._connect()
        if ok or self.reconnect:
            self._tasks.append(asyncio.ensure_future(self._watch()))
            if self._beats is not None:
                self._beats.join()
                self._beats.add(self)
        return ok

    async def _connect(self) -> bool:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        start = time.perf_counter_ns()
        marker = None
        try:
            ssl_ctx = None
            if self.url.startswith("wss://"):
                marker = watch()
                ssl_ctx = self.ssl_context
            kwargs: dict[str, Any] = {"ssl": ssl_ctx} if ssl_ctx else {}
            self._ws = await asyncio.wait_for(
                connect(
                    self.url, additional_headers=self.headers or None, ping_interval=None,
                    open_timeout=None, close_timeout=1, max_queue=None, compression=None, max_size=self.max_size,
                    proxy=proxy_for(self.url, self.proxies), create_connection=partial(delivering_connection(), self),
                    **kwargs,
                ),
                self.connect_timeout,
            )
        except asyncio.TimeoutError:
            self.connect_rec.failure(time.perf_counter_ns() - start, "timeout", "WebSocket connect timed out")
            return False
        except InvalidStatus as exc:
            status = exc.response.status_code
            self.connect_rec.failure(time.perf_counter_ns() - start, f"HTTP {status}", "WebSocket upgrade refused", status=status)
            return False
        except ConnectionRefusedError as exc:
            self.connect_rec.failure(time.perf_counter_ns() - start, "connect refused", str(exc))
            return False
        except (OSError, Exception) as exc:  # websockets raises a range of handshake errors
            tls = connect_failure(exc, marker, self.client_cert)  # the same names as the HTTP clients'
            if tls is not None:
                self.connect_rec.failure(time.perf_counter_ns() - start, TLS_ERROR, tls)
                return False
            name = "connection reset" if isinstance(exc, ConnectionResetError) else "ws connect error"
            self.connect_rec.failure(time.perf_counter_ns() - start, name, f"{type(exc).__name__}: {exc}")
            return False
        self._opened_ns = time.perf_counter_ns()
        self.connect_rec.success(self._opened_ns - start, 0, 101)
        self.stats.open += 1
        self.stats.connects += 1
        return True

    def _frame(self, ws: Any, frame: Frame) -> None:
        """A data frame that websockets parsed (a fragment, or one the splitter left to it): a whole
        message goes on to :meth:`_message`."""
        opcode = frame.opcode
        if frame.fin and opcode is not _CONT:  # a message in one frame: the usual case
            data, text = frame.data, opcode is _TEXT
        else:
            if opcode is not _CONT:
                self._parts, self._parts_text = [], opcode is _TEXT
            if self._parts is None:  # a continuation of nothing: websockets' parser lets none through
                return
            self._parts.append(frame.data)
            if not frame.fin:
                return
            data, text, self._parts = b"".join(self._parts), self._parts_text, None
        self._message(ws, data, text)

    def _message(self, ws: Any, data: bytes, text: bool) -> None:
        """A whole message (one frame, from :class:`.ws_frames.FrameSplitting`, or joined by
        :meth:`_frame`): stamped, kept, counted, and wakes the pending waits."""
        t_ns = time.perf_counter_ns()
        if text:
            try:
                decoded = str(data, "utf-8")
            except UnicodeDecodeError as exc:  # as websockets' recv(): close 1007, counted when it has closed
                ws.protocol.fail(INVALID_DATA, f"{exc.reason} at position {exc.start}")
                try:
                    ws.send_data()
                except Exception:  # cannot even say why: the connection is dropped (the watch counts it)
                    ws.transport.abort()
                return
        else:
            decoded = str(data, "utf-8", "replace")
        stats = self.stats
        at_ns = ws.arrival_ns
        if not at_ns:
            at_ns = t_ns
            stats.messages_timed_at_read += 1
        self.buffer.append(WsMessage(t_ns, at_ns, decoded))
        stats.messages_in += 1
        self._wake()

    def _wake(self) -> None:
        waiters = self.waiters
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            waiters.clear()

    async def _watch(self) -> None:
        """Count the connection's end (a drop, unless closing) and reconnect with backoff."""
        attempt = 0
        while not self._closing:
            ws = self._ws
            if ws is not None:
                await ws.wait_closed()
                closed = ws.protocol.close_exc
                if isinstance(closed, ConnectionClosedOK):
                    attempt = 0
                if not self._closing:
                    self._closed_by_peer(closed)
                if self._ws is ws:
                    self._ws = None
                    self.stats.open -= 1
                    if not self._closing:
                        self.stats.drops += 1
                self._parts = None
                self._wake()
            if self._closing or not self.reconnect:
                return
            delay = min(self.backoff_max, BACKOFF_BASE * (2 ** attempt)) * (0.5 + random.random() / 2)
            attempt = min(attempt + 1, 16)
            await asyncio.sleep(delay)
            if self._closing:
                return
            if await self._connect():
                self.stats.reconnects += 1
                if self.on_reconnect is not None:
                    self._tasks = [t for t in self._tasks if not t.done()]
                    self._tasks.append(self.on_reconnect())

    def _closed_by_peer(self, exc: Any) -> None:
        """Count a close with an error code, a message over the size limit or not UTF-8, as a failure."""
        lived = time.perf_counter_ns() - self._opened_ns
        sent, rcvd = exc.sent, exc.rcvd
        if sent is not None and sent.code == TOO_BIG and not exc.rcvd_then_sent:
            self.connect_rec.failure(lived, "message too big", f"a message over {self.max_size} bytes (max_message_size)")
        elif sent is not None and sent.code == INVALID_DATA and not exc.rcvd_then_sent:
            self.connect_rec.failure(lived, "ws read error", f"a text message that is not UTF-8: {sent.reason}")
        elif rcvd is not None and rcvd.code not in CLEAN_CLOSES:
            self.connect_rec.failure(lived, f"ws close {rcvd.code}", rcvd.reason)

    def beat(self) -> None:
        """Due (called by the schedule): ping now, in a task that lives for one round trip."""
        if self._closing:
            return
        if self._ws is None:  # reconnecting: due again one interval on
            assert self._beats is not None
            self._beats.add(self)
            return
        self._ping = asyncio.ensure_future(self._ping_once(self._ws))

    async def _ping_once(self, ws: Any) -> None:
        assert self.ping_rec is not None and self._beats is not None
        start = time.perf_counter_ns()
        try:
            ws.pong_ns = 0
            waiter = await ws.ping()
            await asyncio.wait_for(waiter, timeout=max(self.heartbeat, 1.0) * 2)
            end = ws.pong_ns or time.perf_counter_ns()
            self.ping_rec.success(end - start if end > start else 0)
        except asyncio.TimeoutError:
            self.ping_rec.failure(time.perf_counter_ns() - start, "timeout", "no pong in time")
        except ConnectionClosed:
            pass  # closed under the ping: the read loop counts the drop (and names an error close)
        except Exception as exc:
            if not self._closing:
                self.ping_rec.failure(time.perf_counter_ns() - start, "ws closed", type(exc).__name__)
        self._ping = None
        if not self._closing:
            self._beats.add(self)

    async def send(self, text: str) -> bool:
        sent = self.send_text(text)
        return sent if sent.__class__ is bool else await sent  # type: ignore[misc]

    def send_text(self, text: str) -> Any:
        """Send ``text``: True (sent) or False (failed, recorded) at once, without a coroutine, when the
        socket takes it; else a coroutine to await that waits for the write buffer to drain."""
        ws = self._ws
        if ws is None:
            return False
        try:
            if ws.send_now(text):
                self.stats.messages_out += 1
                return True
        except Exception as exc:  # closed under us, or a transport error: counted, and the step fails
            self.connect_rec.failure(0, "ws send failed", f"{type(exc).__name__}: {exc}")  # no clock read per send
            return False
        return self._send_waiting(ws, text)

    async def _send_waiting(self, ws: Any, text: str) -> bool:
        try:
            await ws.send(text)
        except Exception as exc:  # as in send_text()
            self.connect_rec.failure(0, "ws send failed", f"{type(exc).__name__}: {exc}")
            return False
        self.stats.messages_out += 1
        return True

    async def close(self) -> None:
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None:
            self.stats.open -= 1
            try:
                await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, OSError, WebSocketException):
                pass  # closing anyway: the socket is gone either way, and nothing was being measured
        if self._beats is not None and self._tasks:  # joined the schedule in open()
            self._beats.leave()
        if self._ping is not None:
            self._tasks.append(self._ping)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
