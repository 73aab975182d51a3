"""HTTP/2 on the ``h2`` library over an asyncio Protocol: the client of ``[http] http2 = true``.

The virtual users' requests are streams multiplexed over few connections per worker: a request takes the
first connection to its origin with fewer than ``http2_streams`` streams in flight (the server's
``max_concurrent_streams`` lowers that), and a new connection opens only when every one is full (and
``max_connections`` allows). Over TLS the loop's own transport, as the fast HTTP/1.1 client uses it
(:mod:`.tls`: one context per client, ALPN ``h2``/``http/1.1``, sessions resumed); TCP connect, TLS
handshake and first byte are timed on the same :class:`.fasthttp.Headers` as the fast client's.

CPU is spent in h2's pure-Python framing and HPACK; around it: header validation off (we send lowercase
names and no connection headers ourselves), one ``transport.write`` per connection and loop pass (streams
opened in one pass share it), one timeout sweep per client every ``tick`` instead of a timer a request,
a large receive window (few WINDOW_UPDATE frames), responses decoded only when used.

Failures keep the names of :mod:`.http`; HTTP/2 adds ``stream reset`` (the server's RST_STREAM, with its
error code) and ``goaway`` (a stream the server refused with GOAWAY, again after one retry). Streams a
GOAWAY or a ``REFUSED_STREAM`` says were not processed are retried on another connection, as RFC 9113
section 8.7 allows; a stream in flight on a connection that drops is retried once when its method is
idempotent. http:// URLs (no h2c), URLs with credentials and servers that do not negotiate ``h2`` go to
the HTTP/1.1 client the profile picks (``fallback``).
"""

from __future__ import annotations

import asyncio
import errno
import json as jsonlib
import socket
import ssl
import zlib
from collections import deque
from http import HTTPStatus
from time import perf_counter_ns
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import (ConnectionTerminated, DataReceived, RemoteSettingsChanged, ResponseReceived,
                       StreamEnded, StreamReset, WindowUpdated)
from h2.exceptions import H2Error, TooManyStreamsError
from h2.settings import SettingCodes, Settings
from hpack import Decoder, Encoder

from ...profile.models import HttpSettings
from .fasthttp import Headers
from .http import HttpClient, HttpError, _os_error_name
from .tls import HANDSHAKE_TIMEOUT, TLS_ERROR, ResumingContext, build_context, describe

__all__ = ["H2Client"]

_CONFIG = H2Configuration(client_side=True, header_encoding=None, validate_outbound_headers=False,
                          normalize_outbound_headers=False, validate_inbound_headers=False,
                          normalize_inbound_headers=False)
_WINDOW = 1 << 24
"""Receive window of the connection and of each stream (16 MiB): few WINDOW_UPDATE frames."""
_REASONS = {s.value: s.phrase for s in HTTPStatus}
"""HTTP/2 carries no reason phrase: the standard one, as httpx gives."""
_DROPPED = frozenset(("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
                      "content-length", "host", "te"))
"""Request headers HTTP/2 forbids (Host becomes ``:authority``; Content-Length is ours)."""
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
_UA = (b"user-agent", b"liminal-tui")
_JSON = jsonlib.JSONEncoder(separators=(",", ":"))
_H1 = ("h1", "")
"""What a connection attempt returns when the server chose HTTP/1.1 in ALPN."""
_CACHE_MAX = 1024
_SAFE = "/%?=&;:@!$'()*+,~-._[]"
"""Characters of a path and query sent as written (the fast client's set)."""


class _Decoder(Decoder):
    """HPACK decoding with the answers of blocks that touch no dynamic table remembered: a server that
    does not index its response headers (nginx) sends the same block for every response of a second
    (~30 us of pure-Python Huffman decoding each time otherwise)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[bytes, list] = {}

    def decode(self, data: bytes, raw: bool = False) -> Any:
        table = self.header_table.dynamic_entries
        if table or not raw or data[:1] and data[0] & 0xE0 == 0x20:  # indexed state, or a table size update
            return super().decode(data, raw)
        hit = self.seen.get(data)
        if hit is not None:
            return list(hit)
        headers = super().decode(data, raw)
        if not table:  # still empty: the block's meaning depends on nothing but its bytes
            if len(self.seen) >= 64:
                self.seen.clear()
            self.seen[bytes(data)] = list(headers)
        return headers


class _Encoder(Encoder):
    """HPACK encoding with the block of a header list remembered while the dynamic table stays as it was
    (the same request again is the same bytes; any change to the table forgets them all). Our header
    lists hold plain tuples only (no never-indexed ones, which compare equal to plain ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple, bytes] = {}
        self.mark: Any = None
        """The newest dynamic-table entry when ``seen`` was filled: every addition replaces it."""

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        table = self.header_table
        entries = table.dynamic_entries
        key = tuple(headers)
        mark = entries[0] if entries else None
        if table.resized or mark is not self.mark:
            self.seen.clear()
            self.mark = mark
        else:
            hit = self.seen.get(key)
            if hit is not None:
                return hit
        out = super().encode(key, huffman)
        if (entries[0] if entries else None) is mark:
            if len(self.seen) >= 64:
                self.seen.clear()
            self.seen[key] = out
        return out


class _Client(H2Connection):
    """h2's connection, with two changes:

    * a GOAWAY leaves it open so that the streams it spares can finish (RFC 9113 section 6.8; h2 closes at
      once, python-hyper/h2 issue 1181): nginx sends one every 1,000 requests;
    * HPACK blocks remembered (:class:`_Decoder`, :class:`_Encoder`);
    * the open-stream count h2 checks before each new stream is the size of its stream table while that is
      below the limits (an upper bound: the exact count walks the table, ~20 us a request at 100 streams).
    """

    def __init__(self, config: H2Configuration) -> None:
        super().__init__(config)
        decoder = _Decoder()
        decoder.max_header_list_size = self.decoder.max_header_list_size
        self.decoder, self.encoder = decoder, _Encoder()

    def _receive_goaway_frame(self, frame):  # type: ignore[no-untyped-def]
        frames, events = super()._receive_goaway_frame(frame)
        self.state_machine.state = ConnectionState.CLIENT_OPEN
        return frames, events

    @property
    def open_outbound_streams(self) -> int:
        n = len(self.streams)
        if n < 256 and n < self.remote_settings.max_concurrent_streams:
            return n
        return self._open_streams(1)  # exact, and drops closed streams from the table


class _Stream:
    __slots__ = ("fut", "headers", "body", "idempotent", "sid", "raw", "chunks", "deadline", "last_rx",
                 "first_ns", "connect_ns", "tls_ns", "why")

    def __init__(self, fut: asyncio.Future, headers: list, body: bytes | None, idempotent: bool,
                 deadline: float, now: float) -> None:
        self.fut, self.headers, self.body, self.idempotent = fut, headers, body, idempotent
        self.sid, self.raw, self.chunks = 0, None, []
        self.deadline, self.last_rx = deadline, now
        self.first_ns, self.connect_ns, self.tls_ns = 0, -1, -1
        self.why: tuple[str, str] = ("goaway", "")
        """The failure to report when a retry is refused too."""


class _Conn(asyncio.Protocol):
    """One HTTP/2 connection: requests are streams; a response completes its stream's future."""

    def __init__(self, client: H2Client, key: tuple[str, int]) -> None:
        self.client, self.key, self.h2 = client, key, _Client(_CONFIG)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.queued: deque[_Stream] = deque()
        """Streams waiting for the server's ``max_concurrent_streams`` (not sent yet)."""
        self.blocked: dict[int, memoryview] = {}
        """Request bodies waiting for flow-control window."""
        self.load = 1
        """Requests that took this connection and are not done (in flight, queued or waiting for it)."""
        self.cap = client._streams
        self.ready: asyncio.Future = client._loop.create_future()
        """None once open, else the failure: (name, message), or ``_H1``. Requests that took it wait."""
        self.settled: asyncio.Future = client._loop.create_future()
        """None when the server's first SETTINGS came (its stream limit is known before the first stream)."""
        self.closed = self.draining = self.flushing = False
        self.last_sid = 1 << 31
        self.tls_host: str | None = None

    # -- set-up
    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def start(self) -> None:
        h2 = self.h2
        h2.local_settings = Settings(client=True, initial_values={
            SettingCodes.ENABLE_PUSH: 0, SettingCodes.INITIAL_WINDOW_SIZE: _WINDOW,
            SettingCodes.MAX_CONCURRENT_STREAMS: 100})
        del h2.local_settings[SettingCodes.ENABLE_CONNECT_PROTOCOL]  # as httpcore: some servers refuse it
        h2.initiate_connection()
        h2.increment_flow_control_window(_WINDOW)
        self._settings()
        self.transport.write(h2.data_to_send())  # type: ignore[union-attr]

    def _settings(self) -> None:
        self.cap = max(1, min(self.client._streams, self.h2.remote_settings.max_concurrent_streams))

    # -- sending
    def send(self, st: _Stream) -> None:
        if self.draining:  # a GOAWAY came while the request waited for this connection
            self._retry(st, "goaway", "the server sent GOAWAY before the stream was sent")
            return
        if self.queued or len(self.streams) >= self.h2.remote_settings.max_concurrent_streams:
            self.queued.append(st)
        else:
            self._open(st)
        if not self.flushing:  # one write for the streams opened in this loop pass
            self.flushing = True
            self.client._loop.call_soon(self._flush)

    def _open(self, st: _Stream) -> None:
        h2 = self.h2
        st.sid = sid = h2.get_next_available_stream_id()
        body = st.body
        try:
            h2.send_headers(sid, st.headers, end_stream=not body)
        except TooManyStreamsError:  # h2 counts streams we reset that the server has not closed yet
            self.queued.appendleft(st)
            return
        self.streams[sid] = st
        if body:
            self._send_body(sid, memoryview(body))

    def _send_body(self, sid: int, view: memoryview) -> None:
        h2 = self.h2
        while view:
            n = min(h2.local_flow_control_window(sid), h2.max_outbound_frame_size, len(view))
            if n <= 0:
                self.blocked[sid] = view
                return
            h2.send_data(sid, bytes(view[:n]), end_stream=n == len(view))
            view = view[n:]

    def _flush(self) -> None:
        self.flushing = False
        if not self.closed and not self.transport.is_closing():  # type: ignore[union-attr]
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)  # type: ignore[union-attr]

    # -- receiving
    def data_received(self, data: bytes) -> None:
        h2 = self.h2
        try:
            events = h2.receive_data(data)
        except H2Error as exc:
            self._flush()  # h2's GOAWAY to the server
            self.lost("bad response", f"HTTP/2 protocol error: {exc}")
            self.transport.abort()  # type: ignore[union-attr]
            return
        streams, now_ns = self.streams, 0
        now = self.client._loop.time() if self.client._read is not None else 0.0
        for ev in events:
            t = type(ev)
            if t is DataReceived:
                st = streams.get(ev.stream_id)
                if st is not None:
                    st.chunks.append(ev.data)
                    st.last_rx = now
                if ev.flow_controlled_length:
                    h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif t is ResponseReceived:
                st = streams.get(ev.stream_id)
                if st is not None:
                    if not now_ns:
                        now_ns = perf_counter_ns()
                    st.raw, st.first_ns, st.last_rx = ev.headers, now_ns, now
            elif t is StreamEnded:
                st = streams.pop(ev.stream_id, None)
                if st is not None:
                    self.blocked.pop(ev.stream_id, None)
                    self._complete(st)
            elif t is StreamReset:
                st = streams.pop(ev.stream_id, None)
                if st is not None:
                    self.blocked.pop(ev.stream_id, None)
                    code = _code(ev.error_code)
                    if ev.error_code == ErrorCodes.REFUSED_STREAM:
                        self._retry(st, "stream reset", "the server refused the stream (REFUSED_STREAM)")
                    else:
                        self._end(st, HttpError("stream reset", f"the server reset the stream: {code}"))
            elif t is WindowUpdated:
                for sid, view in list(self.blocked.items()):
                    del self.blocked[sid]
                    self._send_body(sid, view)
            elif t is ConnectionTerminated:
                self._goaway(ev)
            elif t is RemoteSettingsChanged:
                self._settings()
                if not self.settled.done():
                    self.settled.set_result(None)
        queued = self.queued
        while queued and len(streams) < h2.remote_settings.max_concurrent_streams and not self.draining:
            n = len(queued)
            self._open(queued.popleft())
            if len(queued) == n:  # h2 still counts it as too many
                break
        out = h2.data_to_send()
        if out:
            self.transport.write(out)  # type: ignore[union-attr]

    def _goaway(self, ev: ConnectionTerminated) -> None:
        self.last_sid = ev.last_stream_id
        self.retire()
        why = f"the server sent GOAWAY ({_code(ev.error_code)}) before the stream was processed"
        for sid in [s for s in self.streams if s > ev.last_stream_id]:
            self._retry(self.streams.pop(sid), "goaway", why)
        while self.queued:
            self._retry(self.queued.popleft(), "goaway", why)
        if not self.streams:
            self.transport.close()  # type: ignore[union-attr]

    def _complete(self, st: _Stream) -> None:
        fut = st.fut
        self.load -= 1
        if fut.done():
            return
        raw = st.raw or ()
        chunks = st.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        status = int(raw[0][1]) if raw and raw[0][0] == b":status" else _status(raw)
        cookies: list[str] | tuple[()] = ()
        for name, value in raw:
            n = len(name)
            if n == 10 and name == b"set-cookie":
                cookies = [*cookies, value.decode("latin-1")]
            elif n == 16 and name == b"content-encoding" and data:
                try:
                    data = _decompress(value.strip().lower(), data)
                except zlib.error as exc:
                    fut.set_exception(HttpError("bad response", f"cannot decode {value.decode('latin-1')} body: {exc}"))
                    return
        if self.tls_host is not None:  # TLS 1.3 tickets arrive after the handshake: keep the session now
            self.client._tls.keep(self.tls_host, self.transport.get_extra_info("ssl_object"))  # type: ignore[union-attr]
            self.tls_host = None
        fut.set_result((status, _REASONS.get(status, ""), data,
                        Headers(raw, cookies, st.first_ns, st.connect_ns, st.tls_ns)))
        if self.draining and not self.streams:
            self.transport.close()  # type: ignore[union-attr]

    def _retry(self, st: _Stream, name: str, message: str) -> None:
        """A stream the server did not process: its request goes again on another connection."""
        st.why = (name, message)
        self.load -= 1
        if not st.fut.done():
            st.fut.set_result(None)

    def _end(self, st: _Stream, exc: HttpError) -> None:
        self.load -= 1
        if not st.fut.done():
            st.fut.set_exception(exc)

    def cancel(self, st: _Stream, name: str, message: str) -> None:
        """Give up on a stream (timeout, cancelled): RST_STREAM CANCEL to the server, the request fails."""
        if self.streams.pop(st.sid, None) is not None:
            self.blocked.pop(st.sid, None)
            if not self.closed:
                try:
                    self.h2.reset_stream(st.sid, ErrorCodes.CANCEL)
                except H2Error:  # the stream closed meanwhile: nothing to cancel
                    pass
                self._flush()
            self._end(st, HttpError(name, message))
        elif st in self.queued:
            self.queued.remove(st)
            self._end(st, HttpError(name, message))

    def retire(self) -> None:
        """No new streams here (GOAWAY, lost): drop it from its pool."""
        if not self.draining:
            self.draining = True
            pool = self.client._pools.get(self.key)
            if pool is not None and self in pool:
                pool.remove(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, ssl.SSLError):
            self.lost(TLS_ERROR, describe(exc))
        else:
            name = (_os_error_name(exc) if exc is not None else None) or "server disconnected"
            self.lost(name, str(exc) if exc else "server closed the connection")

    def lost(self, name: str, message: str) -> None:
        """The connection is gone: fail (or retry) every request on it."""
        self.closed = True
        self.retire()
        self.client._all.discard(self)
        if not self.settled.done():
            self.settled.set_result((name, message))
        streams, self.streams = self.streams, {}
        self.blocked.clear()
        for st in streams.values():
            if st.sid > self.last_sid:
                self._retry(st, "goaway", "the server sent GOAWAY before the stream was processed")
            elif st.raw is None and st.idempotent and name != "bad response":
                self._retry(st, name, message)
            else:
                self._end(st, HttpError(name, message))
        while self.queued:
            self._retry(self.queued.popleft(), name, message)


class H2Client:
    """HTTP/2 streams over few TLS connections per origin; everything else through ``fallback``."""

    def __init__(self, settings: HttpSettings, fallback: Callable[[], HttpClient], connections: int = 0) -> None:
        t = settings.timeouts
        self._settings, self._fallback_factory = settings, fallback
        self._connect, self._read = float(t.connect), (float(t.read) if t.read else None)
        self._total = float(t.total) if t.total else 1e9
        self._limit = settings.max_connections
        self._streams = settings.http2_streams
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._pools: dict[tuple[str, int], list[_Conn]] = {}
        """Open connections per origin that take new streams."""
        self._all: set[_Conn] = set()
        self._h1: set[tuple[str, int]] = set()
        """Origins whose server chose HTTP/1.1 in ALPN: the fallback serves them."""
        self._urls: dict[str, tuple | None] = {}
        self._tls: ResumingContext | None = None
        self._fallback: HttpClient | None = None
        self._tick = max(0.005, min(0.05, self._total / 20, (self._read or 1e9) / 20))
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    def _parse(self, url: str) -> tuple | None:
        """url -> ((host, port), authority, path); None for anything HTTP/2 does not serve here."""
        parts = urlsplit(url)
        if parts.scheme != "https" or "@" in parts.netloc or not parts.hostname:
            return None
        path = quote(parts.path or "/", safe=_SAFE) + ("?" + quote(parts.query, safe=_SAFE) if parts.query else "")
        return (parts.hostname, parts.port or 443), parts.netloc.encode(), path

    async def request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        ent = self._urls.get(url, False)
        if ent is False:
            if len(self._urls) >= _CACHE_MAX:
                self._urls.clear()
            ent = self._urls[url] = self._parse(url)
        if ent is None or ent[0] in self._h1:
            return await self._h1_request(method, url, headers, params, data, json)
        key, authority, path = ent
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params)
        hdrs = [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", authority),
                (b":path", path.encode())]
        body, ctype, ua = None, None, True
        if json is not None:
            body, ctype = _JSON.encode(json).encode(), b"application/json"
        elif isinstance(data, str):
            body, ctype = data.encode(), b"text/plain; charset=utf-8"
        elif data is not None:
            body, ctype = bytes(data), b"application/octet-stream"
        if headers:
            for k, v in headers.items():
                lk = k.lower()
                if lk in _DROPPED:
                    if lk == "host":
                        hdrs[2] = (b":authority", v.encode())
                    continue
                if lk == "content-type":
                    ctype = None
                elif lk == "user-agent":
                    ua = False
                hdrs.append((lk.encode(), v.encode()))
        if ua:
            hdrs.append(_UA)
        if body is not None:
            if ctype is not None:
                hdrs.append((b"content-type", ctype))
            hdrs.append((b"content-length", b"%d" % len(body)))
        elif method in ("POST", "PUT", "PATCH"):
            hdrs.append((b"content-length", b"0"))
        deadline = self._loop_time() + self._total
        why = ("goaway", "")
        for _attempt in (0, 1):
            conn, opened = await self._conn_for(key, deadline)
            if conn is None:  # the server speaks HTTP/1.1
                return await self._h1_request(method, url, headers, params, data, json)
            st = _Stream(self._loop.create_future(), hdrs, body, method in _IDEMPOTENT, deadline, self._loop.time())
            if opened is not None:
                st.connect_ns, st.tls_ns = opened
            conn.send(st)
            try:
                result = await st.fut
            except BaseException as exc:
                if not isinstance(exc, HttpError):  # cancelled: tell the server
                    conn.cancel(st, "timeout", "cancelled")
                raise
            if result is not None:
                return result
            why = st.why
        raise HttpError(*why)

    async def _h1_request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        if self._fallback is None:
            self._fallback = self._fallback_factory()
        return await self._fallback.request(method, url, headers, params, data, json)

    def _loop_time(self) -> float:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            self._sweeper = loop.call_at(loop.time() + self._tick, self._sweep)
        return loop.time()

    def _sweep(self) -> None:
        """Fail the streams past their deadline or read timeout; again in ``tick`` seconds."""
        now, read = self._loop.time(), self._read
        for conn in list(self._all):
            for st in [*conn.streams.values(), *conn.queued]:
                if now >= st.deadline:
                    conn.cancel(st, "timeout", "no complete response in time")
                elif read is not None and now - st.last_rx >= read:
                    conn.cancel(st, "timeout", f"no data for {read:g} s")
        self._sweeper = None if self._closed else self._loop.call_at(now + self._tick, self._sweep)

    async def _conn_for(self, key: tuple[str, int], deadline: float) -> tuple[_Conn | None, tuple[int, int] | None]:
        """A connection with room for one more stream (waiting for it to open), or (None, None) for HTTP/1.1."""
        pool = self._pools.get(key) or self._pools.setdefault(key, [])
        for conn in pool:
            if conn.load < conn.cap:
                conn.load += 1
                break
        else:
            if self._limit and len(self._all) >= self._limit and pool:
                conn = min(pool, key=lambda c: c.load)  # no room anywhere: queue on the least busy one
                conn.load += 1
            else:
                return await self._open(key, pool, deadline)
        if not conn.ready.done():
            err = await conn.ready
            if err is _H1:
                return None, None
            if err is not None:
                raise HttpError(*err)
        return conn, None

    async def _open(self, key: tuple[str, int], pool: list[_Conn], deadline: float) -> tuple[_Conn | None, tuple[int, int] | None]:
        conn = _Conn(self, key)
        pool.append(conn)
        self._all.add(conn)
        err: tuple[str, str] | None = ("timeout", "cancelled")
        try:
            err, timings = await self._dial(conn, key, deadline)
        finally:
            if err is not None:
                conn.closed = True
                conn.retire()
                self._all.discard(conn)
                if err is _H1:
                    self._h1.add(key)
            conn.ready.set_result(err)
        if err is _H1:
            return None, None
        if err is not None:
            raise HttpError(*err)
        return conn, timings

    async def _dial(self, conn: _Conn, key: tuple[str, int], deadline: float) -> tuple[Any, tuple[int, int]]:
        """TCP connect, then TLS on the connected socket (timed apart); (failure or None, (connect, tls) ns)."""
        loop, (host, port) = self._loop, key
        connect_by = loop.time() + self._connect
        t0 = perf_counter_ns()
        try:
            async with asyncio.timeout_at(min(connect_by, deadline)):
                transport, _ = await loop.create_connection(lambda: conn, host, port)
        except TimeoutError:
            return ("connect timeout" if connect_by < deadline else "timeout", f"connect to {host}:{port} timed out"), (0, 0)
        except socket.gaierror as exc:
            return ("dns failure", str(exc)), (0, 0)
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED or f"[Errno {errno.ECONNREFUSED}]" in str(exc):
                return ("connect refused", str(exc)), (0, 0)
            return (_os_error_name(exc) or "connect error", str(exc)), (0, 0)
        t1 = perf_counter_ns()
        ctx = self._tls
        if ctx is None:
            ctx = self._tls = build_context(self._settings, alpn=("h2", "http/1.1"))
        handshake_by = loop.time() + self._connect
        try:
            async with asyncio.timeout_at(min(handshake_by, deadline)):
                conn.transport = await loop.start_tls(transport, conn, ctx, server_hostname=host)
        except TimeoutError:
            transport.abort()
            if handshake_by < deadline:
                return (TLS_ERROR, HANDSHAKE_TIMEOUT), (0, 0)
            return ("timeout", f"TLS handshake with {host} cut by the total timeout"), (0, 0)
        except Exception as exc:  # the server closed, reset or spoke no TLS: a named failure, counted
            transport.abort()
            return (TLS_ERROR, describe(exc) if isinstance(exc, ssl.SSLError) else
                    f"handshake failed: {exc or type(exc).__name__}"), (0, 0)
        except BaseException:
            transport.abort()
            raise
        timings = (t1 - t0, perf_counter_ns() - t1)
        if conn.transport.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            conn.transport.close()
            return _H1, timings
        conn.tls_host = host
        conn.start()
        try:
            async with asyncio.timeout_at(min(handshake_by, deadline)):
                err = await conn.settled
        except TimeoutError:
            conn.transport.abort()
            err = ("connect timeout" if handshake_by < deadline else "timeout", f"no HTTP/2 SETTINGS from {host} in time")
        return err, timings

    def open_connections(self) -> int:
        return len(self._all) + (self._fallback.open_connections() if self._fallback is not None else 0)

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._all):
            if not conn.closed and conn.transport is not None:
                conn.h2.close_connection()
                conn._flush()
                conn.transport.close()
        if self._fallback is not None:
            await self._fallback.close()
        await asyncio.sleep(0)  # let the transports' connection_lost run


def _code(code: Any) -> str:
    return code.name if isinstance(code, ErrorCodes) else f"error code {code}"


def _status(raw: Any) -> int:
    for name, value in raw:
        if name == b":status":
            return int(value)
    return 0


def _decompress(encoding: bytes, data: bytes) -> bytes:
    if encoding in (b"gzip", b"x-gzip"):
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if encoding == b"deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -zlib.MAX_WBITS)
    return data
