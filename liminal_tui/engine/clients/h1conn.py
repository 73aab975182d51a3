"""One HTTP/1.1 keep-alive connection of the fast client: the asyncio Protocol, the llhttp (httptools)
parser callbacks, and the response it hands back.

:class:`Connection` has at most one request in flight (no pipelining): ``start`` writes the request and
returns the one future the response resolves; ``overdue`` is the client's sweep asking whether a time limit
has passed. :class:`Headers` are the response headers, decoded only when used, carrying the timings:
``first_ns`` (perf_counter_ns of the response's first bytes, one clock read in ``data_received``), and for
the request that opened its connection ``connect_ns``/``tls_ns`` (-1 otherwise).
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

import httptools

from .http import MAX_HEADER_BYTES, HttpError, _os_error_name
from .tls import CERT_REQUIRED, TLS_ERROR, closed_after_handshake, describe

if TYPE_CHECKING:
    from .fasthttp import FastHttpClient

__all__ = ["Connection", "Headers", "decompress"]


def decompress(encoding: bytes, data: bytes) -> bytes:
    if encoding in (b"gzip", b"x-gzip"):
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if encoding == b"deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
    return data


class Headers:
    """Response headers, decoded on first use; ``get``/``[]``/``in`` are case-insensitive."""

    __slots__ = ("_map", "_raw", "set_cookie", "first_ns", "connect_ns", "tls_ns")

    def __init__(self, raw: list, set_cookie: list[str] | tuple[()] = (), first_ns: int = 0,
                 connect_ns: int = -1, tls_ns: int = -1) -> None:
        self._raw = raw
        self._map: dict[str, str] | None = None
        self.set_cookie = set_cookie
        """Every ``Set-Cookie`` value (collected while the headers are scanned anyway)."""
        self.first_ns = first_ns
        """``perf_counter_ns()`` when the response's first bytes arrived."""
        self.connect_ns = connect_ns
        """TCP connect time (ns) when this request opened its connection, else -1."""
        self.tls_ns = tls_ns
        """TLS handshake time (ns) when this request opened its https:// connection, else -1."""

    def _dict(self) -> dict[str, str]:
        if self._map is None:  # the first of repeated headers wins, as with aiohttp's .get
            self._map = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(self._raw)}
        return self._map

    def get(self, name: str, default: Any = None) -> Any:
        return self._dict().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._dict()[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._dict()

    def items(self):  # type: ignore[no-untyped-def]
        return self._dict().items()


class Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight (no pipelining)."""

    def __init__(self, client: FastHttpClient) -> None:
        self.client, self.loop, self.parser = client, client._loop, httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.deadline = 0.0
        """Loop time by which the request in flight must be complete (see ``FastHttpClient._sweep``)."""
        self.read: float | None = None
        """Read timeout of the request in flight (None: none); ``last_rx`` is when bytes last came."""
        self.closed = self.head = self.got_bytes = self.headers_done = self.keep_alive = False
        self.head_status, self.last_rx, self.reason = 0, 0.0, b""
        self.raw_headers: list = []
        self.body: list = []
        self.first_ns, self.connect_ns, self.tls_ns = 0, -1, -1
        self.tls_host: str | None = None
        """Set on a new https:// connection until its first response: then its TLS session is kept."""
        self.tls_object: Any = None
        """The new https:// connection's ``SSLObject``, until its first response."""

    # -- asyncio.Protocol
    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        self.client._conns.add(self)

    def gone(self) -> None:
        """Count the connection closed, once (a TLS handshake that fails never calls connection_lost)."""
        if not self.closed:
            self.closed = True
            self.client._conns.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the connection is out of step
            self.abort()
            return
        if not self.got_bytes:
            self.got_bytes = True
            self.first_ns = perf_counter_ns()
        if self.read is not None:
            self.last_rx = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail("bad response", "unexpected protocol upgrade")
        except httptools.HttpParserError as exc:
            self.fail("bad response", f"malformed HTTP response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone()
        if self.waiter is None or self.waiter.done():
            return
        if isinstance(exc, ssl.SSLError):  # e.g. the server's alert that a client certificate is required
            self.fail(TLS_ERROR, describe(exc))
        elif not self.got_bytes and self.tls_host is not None and closed_after_handshake(
                self.tls_object, self.client._settings.client_cert):
            self.fail(TLS_ERROR, CERT_REQUIRED)  # the alert not read: the same name as when it is
        elif not self.got_bytes:
            self.fail("server disconnected", str(exc) if exc else "server closed the connection")
        elif self.headers_done and not self.head and self._eof_delimited():
            self.keep_alive = False
            self.on_message_complete()
        else:
            name = (_os_error_name(exc) if exc is not None else None) or "incomplete body"
            self.fail(name, str(exc) if exc else "connection closed before the response was complete")

    def _eof_delimited(self) -> bool:  # neither Content-Length nor chunked: the body ends with the connection
        return not any(n.lower() == b"content-length" or (n.lower() == b"transfer-encoding" and b"chunked" in v.lower())
                       for n, v in self.raw_headers)

    # -- httptools callbacks
    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(value) > MAX_HEADER_BYTES or len(name) > MAX_HEADER_BYTES:
            self.fail("header too large", f"a response header over {MAX_HEADER_BYTES} bytes")
            return
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.head and self.waiter is not None:
            # llhttp cannot be told that a HEAD response has no body: finish here, with a fresh parser
            parser = self.parser
            self.head_status = parser.get_status_code()
            self.keep_alive = parser.should_keep_alive()
            self.parser = httptools.HttpResponseParser(self)
            self._complete()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is None:  # HEAD, already answered
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim response: the real one follows
            self.reason, self.raw_headers, self.body, self.headers_done = b"", [], [], False
            return
        if not self.closed:
            self.keep_alive = self.parser.should_keep_alive()
        self._complete()

    # -- request side
    def _complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        body = self.body
        status = self.head_status if self.head else self.parser.get_status_code()
        data = body[0] if len(body) == 1 else b"".join(body)
        cookies: list[str] | tuple[()] = ()
        for name, value in self.raw_headers:  # no Accept-Encoding is sent, but a profile may send one
            n = len(name)
            if n == 16 and name.lower() == b"content-encoding" and data:
                try:
                    data = decompress(value.strip().lower(), data)
                except zlib.error as exc:
                    waiter.set_exception(HttpError("bad response", f"cannot decode {value.decode('latin-1')} body: {exc}"))
                    return
            elif n == 10 and name.lower() == b"set-cookie":
                cookies = [*cookies, value.decode("latin-1")]
        headers = Headers(self.raw_headers, cookies, self.first_ns, self.connect_ns, self.tls_ns)
        if self.connect_ns >= 0:
            self.connect_ns = self.tls_ns = -1
            if self.tls_host is not None and self.client._tls is not None and self.transport is not None:
                self.client._tls.keep(self.tls_host, self.tls_object)
                self.tls_host = self.tls_object = None
        waiter.set_result((status, self.reason.decode("latin-1"), data, headers))

    def start(self, payload: bytes, head: bool, deadline: float, read: float | None) -> asyncio.Future:
        self.waiter = fut = self.loop.create_future()
        self.head, self.got_bytes, self.headers_done, self.reason, self.raw_headers, self.body = (
            head, False, False, b"", [], [])
        self.deadline, self.read = deadline, read
        if read is not None:
            self.last_rx = self.loop.time()
        self.transport.write(payload)  # type: ignore[union-attr]
        return fut

    def overdue(self, now: float) -> None:
        """Called by the client's sweep: fail the request in flight when it is past a time limit."""
        if now >= self.deadline:
            self.fail("timeout", "no complete response in time")
        elif self.read is not None and now - self.last_rx >= self.read:
            self.fail("timeout", f"no data for {self.read:g} s")

    def fail(self, name: str, message: str) -> None:
        waiter, self.waiter = self.waiter, None
        self.abort()
        if waiter is not None and not waiter.done():
            waiter.set_exception(HttpError(name, message))

    def abort(self) -> None:
        self.keep_alive = False
        if self.transport is not None and not self.closed:
            self.transport.abort()
