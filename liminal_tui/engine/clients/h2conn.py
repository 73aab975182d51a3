"""One HTTP/2 connection of :class:`.h2.H2Client`: an asyncio Protocol over h2's state machine.

Requests are streams; a response completes its stream's future with (status, reason, body,
:class:`.fasthttp.Headers`). What keeps the CPU a request down, around h2's pure-Python framing and HPACK:
header validation off (the client sends lowercase names and no connection headers), one
``transport.write`` per connection and loop pass (streams opened in one pass share it), a 16 MiB
receive window (few WINDOW_UPDATE frames), HPACK blocks remembered where that is exact (:mod:`.h2hpack`), h2's open-stream count taken cheaply (:class:`_Client`), responses decoded only when used.

Failures: ``stream reset`` (the server's RST_STREAM, with its error code); a stream a GOAWAY (above its
last stream id) or ``REFUSED_STREAM`` says was not processed resolves to ``None``, and the client sends
it again (RFC 9113 section 8.7); so does an idempotent request whose connection dropped before any answer.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from http import HTTPStatus
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from h2.config import H2Configuration
from h2.connection import ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.events import (ConnectionTerminated, DataReceived, RemoteSettingsChanged, ResponseReceived,
                       StreamEnded, StreamReset, WindowUpdated)
from h2.exceptions import H2Error, NoAvailableStreamIDError, TooManyStreamsError
from h2.settings import SettingCodes, Settings

from .h1conn import Headers, decompress
from .h2hpack import RememberingDecoder, RememberingEncoder
from .http import HttpError, _os_error_name
from .tls import TLS_ERROR, describe

if TYPE_CHECKING:
    from .h2 import H2Client

__all__ = ["H2Conn", "H2Stream"]

_CONFIG = H2Configuration(client_side=True, header_encoding=None, validate_outbound_headers=False,
                          normalize_outbound_headers=False, validate_inbound_headers=False,
                          normalize_inbound_headers=False)
_WINDOW = 1 << 24
"""Receive window of the connection and of each stream (16 MiB): few WINDOW_UPDATE frames."""
_REASONS = {s.value: s.phrase for s in HTTPStatus}
"""HTTP/2 carries no reason phrase: the standard one, as httpx gives."""



class H2Headers(Headers):
    """An HTTP/2 response's headers: h2's ``(name, value)`` pairs (in the slot that holds an HTTP/1.1
    head's bytes), decoded on first use like the fast client's."""

    __slots__ = ()

    def _dict(self) -> dict[str, str]:
        if self._map is None:  # the first of repeated headers wins, as with aiohttp's .get
            pairs: Any = self._head
            self._map = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(pairs)}
        return self._map

class _Client(H2Connection):
    """h2's connection, with two changes:

    * a GOAWAY leaves it open so that the streams it spares can finish (RFC 9113 section 6.8; h2 closes at
      once, python-hyper/h2 issue 1181): nginx sends one every 1,000 requests;
    * HPACK blocks remembered (:mod:`.h2hpack`);
    * the open-stream count h2 checks before each new stream is the size of its stream table while that is
      below the limits (an upper bound: the exact count walks the table, ~20 us a request at 100 streams).
    """

    def __init__(self, config: H2Configuration) -> None:
        super().__init__(config)
        decoder = RememberingDecoder()
        decoder.max_header_list_size = self.decoder.max_header_list_size
        self.decoder, self.encoder = decoder, RememberingEncoder()

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


class H2Stream:
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


class H2Conn(asyncio.Protocol):
    """One HTTP/2 connection: requests are streams; a response completes its stream's future."""

    def __init__(self, client: H2Client, key: tuple[str, int]) -> None:
        self.client, self.key, self.h2 = client, key, _Client(_CONFIG)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, H2Stream] = {}
        self.queued: deque[H2Stream] = deque()
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
    def send(self, st: H2Stream) -> None:
        if self.draining:  # a GOAWAY came while the request waited for this connection
            self._retry(st, "goaway", "the server sent GOAWAY before the stream was sent")
            return
        if self.queued or len(self.streams) >= self.h2.remote_settings.max_concurrent_streams:
            self.queued.append(st)
        else:
            self._open(st)
        if not self.flushing:  # one write for the streams opened in this loop pass
            self.flushing = True
            self.client._loop.call_soon(self.flush)

    def _open(self, st: H2Stream) -> None:
        h2 = self.h2
        body = st.body
        try:
            st.sid = sid = h2.get_next_available_stream_id()
            h2.send_headers(sid, st.headers, end_stream=not body)
        except TooManyStreamsError:  # h2 counts streams we reset that the server has not closed yet
            self.queued.appendleft(st)
            return
        except NoAvailableStreamIDError:  # 2**30 streams on one connection: the next one takes over
            self.retire()
            self._retry(st, "goaway", "the connection used up its stream ids")
            if not self.streams:
                self.transport.close()  # type: ignore[union-attr]
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

    def flush(self) -> None:
        self.flushing = False
        if not self.closed and not self.transport.is_closing():  # type: ignore[union-attr]
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)  # type: ignore[union-attr]

    # -- receiving
    def data_received(self, data: bytes) -> None:
        try:
            self._received(data)
        except H2Error as exc:  # the server broke the protocol: the connection is done
            self.flush()  # h2's GOAWAY to the server
            self.lost("bad response", f"HTTP/2 protocol error: {exc}")
            self.transport.abort()  # type: ignore[union-attr]

    def _received(self, data: bytes) -> None:
        h2 = self.h2
        events = h2.receive_data(data)
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

    def _complete(self, st: H2Stream) -> None:
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
                    data = decompress(value.strip().lower(), data)
                except zlib.error as exc:
                    fut.set_exception(HttpError("bad response", f"cannot decode {value.decode('latin-1')} body: {exc}"))
                    return
        if self.tls_host is not None:  # TLS 1.3 tickets arrive after the handshake: keep the session now
            self.client._tls.keep(self.tls_host, self.transport.get_extra_info("ssl_object"))  # type: ignore[union-attr]
            self.tls_host = None
        fut.set_result((status, _REASONS.get(status, ""), data,
                        H2Headers(raw, cookies, st.first_ns, st.connect_ns, st.tls_ns)))
        if self.draining and not self.streams:
            self.transport.close()  # type: ignore[union-attr]

    def _retry(self, st: H2Stream, name: str, message: str) -> None:
        """A stream the server did not process: its request goes again on another connection."""
        st.why = (name, message)
        self.load -= 1
        if not st.fut.done():
            st.fut.set_result(None)

    def _end(self, st: H2Stream, exc: HttpError) -> None:
        self.load -= 1
        if not st.fut.done():
            st.fut.set_exception(exc)

    def cancel(self, st: H2Stream, name: str, message: str) -> None:
        """Give up on a stream (timeout, cancelled): RST_STREAM CANCEL to the server, the request fails."""
        if self.streams.pop(st.sid, None) is not None:
            self.blocked.pop(st.sid, None)
            if not self.closed:
                try:
                    self.h2.reset_stream(st.sid, ErrorCodes.CANCEL)
                except H2Error:  # the stream closed meanwhile: nothing to cancel
                    pass
                self.flush()
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
        if not self.settled.done():  # it never spoke HTTP/2 (h2c to an HTTP/1.1 server, say)
            self.settled.set_result((name, f"{message}, before any HTTP/2 SETTINGS"))
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


def _code(code: Any) -> str:
    return code.name if isinstance(code, ErrorCodes) else f"error code {code}"


def _status(raw: Any) -> int:
    for name, value in raw:
        if name == b":status":
            return int(value)
    return 0

