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
import re
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


MAX_HEAD_BYTES = 1 << 20
"""Longest response head (status line and every header) the fast client takes in: 1 MiB."""
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
"""Methods sent once more on a new connection when a reused one turns out closed by the server."""
_SPECIAL = re.compile(rb"(?i)\n(?:set-cookie|content-encoding)[ \t]*:")
"""A header the client acts on (one regex search: ~0.2 us, half the cost of ``lower()`` and two ``in``)."""
_REASONS: dict[bytes, str] = {}
"""Status line -> its reason phrase, decoded once (a server sends few distinct ones)."""


def _pairs(head: bytes) -> list[tuple[bytes, bytes]]:
    """The header lines of a response head (status line first, no blank line) as raw (name, value)."""
    out = []
    for line in head.split(b"\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:  # llhttp refused anything else, obsolete line folding included
            out.append((name.strip(), value.strip()))
    return out


def _reason(head: bytes) -> str:
    i = head.find(b"\n")
    line = head if i < 0 else head[:i]
    reason = _REASONS.get(line)
    if reason is None:
        parts = line.rstrip(b"\r").split(b" ", 2)
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        if len(_REASONS) < 256:
            _REASONS[line] = reason
    return reason


class Headers:
    """Response headers, parsed from the head's bytes on first use; ``get``/``[]``/``in`` are
    case-insensitive (the first of repeated headers wins, as with aiohttp's ``.get``)."""

    __slots__ = ("_map", "_head", "set_cookie", "first_ns", "connect_ns", "tls_ns")

    def __init__(self, head: bytes, set_cookie: list[str] | tuple[()] = (), first_ns: int = 0,
                 connect_ns: int = -1, tls_ns: int = -1) -> None:
        self._head = head
        """The response's status line and header lines, as received."""
        self._map: dict[str, str] | None = None
        self.set_cookie = set_cookie
        """Every ``Set-Cookie`` value."""
        self.first_ns = first_ns
        """``perf_counter_ns()`` when the response's first bytes arrived."""
        self.connect_ns = connect_ns
        """TCP connect time (ns) when this request opened its connection, else -1."""
        self.tls_ns = tls_ns
        """TLS handshake time (ns) when this request opened its https:// connection, else -1."""

    def _dict(self) -> dict[str, str]:
        if self._map is None:
            self._map = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(_pairs(self._head))}
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
    """One keep-alive connection; at most one request in flight (no pipelining).

    llhttp (httptools) is given no ``on_status``/``on_header`` callback: a Python call per header, with
    two ``bytes`` and a tuple, cost more than finding the head's end in the bytes received and reading
    status line and headers from them only when asked (:class:`Headers`)."""

    def __init__(self, client: FastHttpClient) -> None:
        self.client, self.loop, self.parser = client, client._loop, httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.deadline = 0.0
        """Loop time by which the request in flight must be complete (see ``FastHttpClient._sweep``)."""
        self.read: float | None = None
        """Read timeout of the request in flight (None: none); ``last_rx`` is when bytes last came."""
        self.closed = self.is_head = self.got_bytes = self.headers_done = self.keep_alive = False
        self.head_status, self.last_rx, self.head_end = 0, 0.0, 0
        self.buf = b""
        """The bytes of the response in flight from its status line on, until its head is complete."""
        self.head = b""
        """The response's status line and header lines (no blank line), once its head is complete."""
        self.body: list = []
        self.first_ns, self.connect_ns, self.tls_ns = 0, -1, -1
        self.tls_host: str | None = None
        """Set on a new https:// connection until its first response: then its TLS session is kept."""
        self.tls_object: Any = None
        """The new https:// connection's ``SSLObject``, until its first response."""
        self.key: tuple | None = None
        self.pool: list[Connection] | None = None
        """The client's idle connections of ``key``: a complete response puts the connection back there."""
        self.method, self.payload, self.reused = "GET", b"", False
        """The request in flight, kept for :meth:`.FastHttpClient.retry` (and whether the pool gave it)."""

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
        if not self.headers_done:
            self.buf += data  # the first chunk: no copy (b"" + data is data)
            if len(self.buf) > MAX_HEAD_BYTES and self.buf.find(b"\n\r\n") < 0 and self.buf.find(b"\n\n") < 0:
                self.fail("header too large", f"a response head over {MAX_HEAD_BYTES} bytes")
                return
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
        elif not self.got_bytes and self.reused and self.method in _IDEMPOTENT:
            waiter, self.waiter = self.waiter, None  # a stale keep-alive connection: once more on a new one
            self.client.retry(waiter, self)
        elif not self.got_bytes:
            self.fail("server disconnected", str(exc) if exc else "server closed the connection")
        elif self.headers_done and not self.is_head and self._eof_delimited():
            self.keep_alive = False
            self.on_message_complete()
        else:
            name = (_os_error_name(exc) if exc is not None else None) or "incomplete body"
            self.fail(name, str(exc) if exc else "connection closed before the response was complete")

    def _eof_delimited(self) -> bool:  # neither Content-Length nor chunked: the body ends with the connection
        return not any(n.lower() == b"content-length" or (n.lower() == b"transfer-encoding" and b"chunked" in v.lower())
                       for n, v in _pairs(self.head))

    # -- httptools callbacks
    def on_headers_complete(self) -> None:
        self.headers_done = True
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            self.head, self.head_end = buf[:end], end + 4
        else:  # bare LF line ends, which llhttp lets through
            end = buf.find(b"\n\n")
            self.head, self.head_end = buf[:end], end + 2
        if len(self.head) > MAX_HEADER_BYTES and any(
                len(n) > MAX_HEADER_BYTES or len(v) > MAX_HEADER_BYTES for n, v in _pairs(self.head)):
            self.fail("header too large", f"a response header over {MAX_HEADER_BYTES} bytes")
            return
        if self.is_head and self.waiter is not None:
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
            self.buf, self.body, self.headers_done = self.buf[self.head_end:], [], False
            return
        if not self.closed:
            self.keep_alive = self.parser.should_keep_alive()
        self._complete()

    # -- request side
    def _complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is None:
            return
        if waiter.done():  # its step was cancelled: nobody takes the connection back
            self.abort()
            return
        body, head = self.body, self.head
        status = self.head_status if self.is_head else self.parser.get_status_code()
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()  # the list is the next response's (start() does not make one)
        cookies: list[str] | tuple[()] = ()
        if _SPECIAL.search(head) is not None:
            for name, value in _pairs(head):  # no Accept-Encoding is sent, but a profile may send one
                n = len(name)
                if n == 16 and name.lower() == b"content-encoding" and data:
                    try:
                        data = decompress(value.lower(), data)
                    except zlib.error as exc:
                        self.abort()
                        waiter.set_exception(HttpError("bad response", f"cannot decode {value.decode('latin-1')} body: {exc}"))
                        return
                elif n == 10 and name.lower() == b"set-cookie":
                    cookies = [*cookies, value.decode("latin-1")]
        headers = Headers(head, cookies, self.first_ns, self.connect_ns, self.tls_ns)
        if self.connect_ns >= 0:
            self.connect_ns = self.tls_ns = -1
            if self.tls_host is not None and self.client._tls is not None and self.transport is not None:
                self.client._tls.keep(self.tls_host, self.tls_object)
                self.tls_host = self.tls_object = None
        if not self.closed:
            if self.keep_alive:
                self.pool.append(self)  # type: ignore[union-attr]
            else:
                self.transport.close()  # type: ignore[union-attr]
        waiter.set_result((status, _reason(head), data, headers))

    def start(self, payload: bytes, method: str, deadline: float, read: float | None, reused: bool) -> asyncio.Future:
        """Write the request; the future its response resolves (the connection is out of its pool until then)."""
        self.waiter = fut = self.loop.create_future()
        self.is_head = method == "HEAD"  # one attribute a line: a tuple assignment of five builds a tuple
        self.got_bytes = self.headers_done = False
        self.buf = b""
        self.method = method
        self.payload = payload
        self.reused = reused
        self.deadline = deadline
        self.read = read
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
