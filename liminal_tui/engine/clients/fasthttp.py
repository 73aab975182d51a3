"""A minimal HTTP/1.1 keep-alive client on asyncio.Protocol + llhttp (httptools), for http:// and https://.

About a quarter of aiohttp's CPU a request (35 vs 140 us in bench/run.py): one ``transport.write`` per request
(request line and Host pre-built per URL), one future and no timer (one sweep per client every ``tick``
fails the requests past their deadline: a uvloop timer set and cancelled per request cost ~2-4 us),
response headers decoded only when used.
https:// uses the loop's own TLS transport (uvloop's or asyncio's ``start_tls`` on the connected socket, so
the TCP connect and the TLS handshake are timed apart) with one context per client (:mod:`.tls`: SNI, ALPN
``http/1.1``, sessions resumed on new connections). URLs with credentials go through a lazily created
:class:`AiohttpClient`. Errors carry the same names as the other clients (see :mod:`.http`).

Timings ride on the response's :class:`Headers`: ``first_ns`` (perf_counter_ns of the response's first
bytes, one clock read in ``data_received``), and for the request that opened its connection
``connect_ns``/``tls_ns`` (-1 otherwise).
"""

from __future__ import annotations

import asyncio
import errno
import json as jsonlib
import re
import socket
import ssl
import zlib
from time import perf_counter_ns
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httptools

from ...profile.models import HttpSettings
from .http import MAX_HEADER_BYTES, AiohttpClient, HttpError, _os_error_name
from .tls import HANDSHAKE_TIMEOUT, TLS_ERROR, ResumingContext, build_context, describe

__all__ = ["FastHttpClient"]

_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
_URL_CACHE_MAX = 1024
_SAFE_PATH = "/%?=&;:@!$'()*+,~-._[]"
_PLAIN = re.compile(r"[^A-Za-z0-9_.~\-" + re.escape(_SAFE_PATH) + "]")
"""A character ``quote(.., safe=_SAFE_PATH)`` would change: a path without one is sent as written."""
_JSON = jsonlib.JSONEncoder(separators=(",", ":"))
"""One encoder for every JSON body: ``json.dumps`` with ``separators`` builds a new one each call (~2 us)."""


def _decompress(encoding: bytes, data: bytes) -> bytes:
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


class _Conn(asyncio.Protocol):
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
                    data = _decompress(value.strip().lower(), data)
                except zlib.error as exc:
                    waiter.set_exception(HttpError("bad response", f"cannot decode {value.decode('latin-1')} body: {exc}"))
                    return
            elif n == 10 and name.lower() == b"set-cookie":
                cookies = [*cookies, value.decode("latin-1")]
        headers = Headers(self.raw_headers, cookies, self.first_ns, self.connect_ns, self.tls_ns)
        if self.connect_ns >= 0:
            self.connect_ns = self.tls_ns = -1
            if self.tls_host is not None and self.client._tls is not None and self.transport is not None:
                self.client._tls.keep(self.tls_host, self.transport.get_extra_info("ssl_object"))
                self.tls_host = None
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


class FastHttpClient:
    """HTTP/1.1 keep-alive pools per (host, port, tls); URLs with credentials delegated to aiohttp."""

    def __init__(self, settings: HttpSettings, connections: int = 0) -> None:
        self._settings, self._connections, t = settings, connections, settings.timeouts
        self._connect, self._read = float(t.connect), (float(t.read) if t.read else None)
        self._total = float(t.total) if t.total else 1e9
        self._limit = settings.max_connections or connections or 0
        self._sem = asyncio.Semaphore(self._limit) if self._limit else None
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._pools: dict[tuple[str, int, bool], list[_Conn]] = {}  # idle connections, LIFO
        self._urls: dict[str, tuple | None] = {}  # url -> _parse(url)
        self._origins: dict[str, tuple] = {}  # "scheme://netloc" -> ((host, port, tls), request line tail)
        self._conns: set[_Conn] = set()
        """Every open connection, idle or busy (the sweep looks at the busy ones)."""
        self._tick = max(0.005, min(0.05, self._total / 20, (self._read or 1e9) / 20))
        """Seconds between sweeps: a timeout fires at most this late (50 ms, less for short limits)."""
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._fallback: AiohttpClient | None = None  # URLs with credentials
        self._tls: ResumingContext | None = None
        """Built at the first https:// connection (:func:`.tls.build_context`)."""

    def _parse(self, url: str) -> tuple | None:
        """url -> ((host, port, tls), path, b" HTTP/1.1\\r\\nHost: ..\\r\\n", b" <path> HTTP/1.1..."); None: aiohttp.

        A URL of a known origin whose path and query need no quoting skips ``urlsplit`` and ``quote``
        (~1 us instead of ~5-15): a chain's ``GET /items/${id}`` is a new URL every time."""
        i = url.find("/", 8)  # the path's start, after "http://x" or "https://"
        if i > 0:
            known = self._origins.get(url[:i])
            if known is not None:
                path = url[i:]
                if _PLAIN.search(path) is None and path[-1] != "?":
                    key, tail = known
                    return key, path, tail, b" " + path.encode() + tail
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or "@" in parts.netloc or not parts.hostname:
            return None
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        path = quote(parts.path or "/", safe=_SAFE_PATH)
        if parts.query:
            path += "?" + quote(parts.query, safe=_SAFE_PATH)
        tail = f" HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: liminal-tui\r\n".encode()
        key = (parts.hostname, port, tls)
        if len(self._origins) >= _URL_CACHE_MAX:
            self._origins.clear()
        self._origins[f"{parts.scheme}://{parts.netloc}"] = (key, tail)
        return key, path, tail, b" " + path.encode() + tail

    async def request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        ent = self._urls.get(url, False)
        if ent is False:
            ent = self._parse(url)
            if len(self._urls) >= _URL_CACHE_MAX:
                self._urls.clear()
            self._urls[url] = ent
        if ent is None:
            self._fallback = self._fallback or AiohttpClient(self._settings, self._connections)
            return await self._fallback.request(method, url, headers, params, data, json)
        key, path, tail, line = ent
        if params:
            line = b" " + (path + ("&" if "?" in path else "?") + urlencode(params)).encode() + tail
        parts, body, ctype = [method.encode(), line], None, None
        if json is not None:
            body, ctype = _JSON.encode(json).encode(), b"application/json"
        elif isinstance(data, str):
            body, ctype = data.encode(), b"text/plain; charset=utf-8"
        elif data is not None:
            body, ctype = bytes(data), b"application/octet-stream"
        if headers:
            for k, v in headers.items():
                lk = k.lower()
                if lk == "content-type":
                    ctype = None
                elif lk == "content-length":
                    continue  # ours is right
                elif lk == "host" or lk == "user-agent":
                    parts[1] = _drop_header(parts[1], lk)  # the user's replaces ours
                parts.append(f"{k}: {v}\r\n".encode())
        if body is not None:
            if ctype is not None:
                parts.append(b"Content-Type: " + ctype + b"\r\n")
            parts.append(b"Content-Length: %d\r\n\r\n" % len(body))
            parts.append(body)
        elif method in ("POST", "PUT", "PATCH"):
            parts.append(b"Content-Length: 0\r\n\r\n")
        else:
            parts.append(b"\r\n")
        payload = b"".join(parts)
        sem = self._sem
        if sem is None:
            return await self._send(key, method, payload)
        deadline = self._loop_time() + self._total
        try:
            async with asyncio.timeout_at(deadline):
                await sem.acquire()
        except TimeoutError:
            raise HttpError("timeout", "no free connection in time") from None
        try:
            return await self._send(key, method, payload, deadline)
        finally:
            sem.release()

    def _loop_time(self) -> float:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            self._sweeper = loop.call_at(loop.time() + self._tick, self._sweep)
        return loop.time()

    def _sweep(self) -> None:
        """Fail the requests past their deadline or read timeout; again in ``tick`` seconds."""
        loop = self._loop
        now = loop.time()
        for conn in [c for c in self._conns if c.waiter is not None]:
            conn.overdue(now)
        self._sweeper = None if self._closed else loop.call_at(now + self._tick, self._sweep)

    async def _send(self, key, method, payload, deadline=None):  # type: ignore[no-untyped-def]
        if deadline is None:
            deadline = self._loop_time() + self._total
        pool = self._pools.get(key) or self._pools.setdefault(key, [])
        for attempt in (0, 1):
            conn = None
            while pool and not attempt:
                c = pool.pop()
                if not c.closed and not c.transport.is_closing():  # type: ignore[union-attr]
                    conn = c
                    break
            reused = conn is not None
            if conn is None:
                conn = await self._new_conn(key, deadline)
            fut = conn.start(payload, method == "HEAD", deadline, self._read)
            try:
                result = await fut
            except HttpError as exc:
                if attempt == 0 and reused and exc.name == "server disconnected" and method in _IDEMPOTENT:
                    continue  # a stale keep-alive connection: once more on a fresh one
                raise
            except BaseException:  # cancelled: the response is unfinished, the connection unusable
                conn.fail("timeout", "cancelled")
                raise
            if conn.keep_alive and not conn.closed:
                pool.append(conn)
            elif not conn.closed:
                conn.transport.close()  # type: ignore[union-attr]
            return result
        raise AssertionError("unreachable")

    async def _new_conn(self, key: tuple[str, int, bool], deadline: float) -> _Conn:
        loop = self._loop
        if self._limit and len(self._conns) >= self._limit:
            self._close_one_idle()
        host, port, tls = key
        connect_by = loop.time() + self._connect
        name = "connect timeout" if connect_by < deadline else "timeout"
        t0 = perf_counter_ns()
        try:
            async with asyncio.timeout_at(min(connect_by, deadline)):
                transport, conn = await loop.create_connection(lambda: _Conn(self), host, port)
        except TimeoutError:
            raise HttpError(name, f"connect to {host}:{port} timed out") from None
        except socket.gaierror as exc:
            raise HttpError("dns failure", str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED or f"[Errno {errno.ECONNREFUSED}]" in str(exc):  # or all refused
                raise HttpError("connect refused", str(exc)) from None
            raise HttpError(_os_error_name(exc) or "connect error", str(exc)) from None
        t1 = perf_counter_ns()
        conn.connect_ns = t1 - t0
        if tls:
            await self._handshake(conn, transport, host, deadline)
            conn.tls_ns = perf_counter_ns() - t1
        return conn  # type: ignore[return-value]

    async def _handshake(self, conn: _Conn, transport: asyncio.Transport, host: str, deadline: float) -> None:
        """TLS on the connected socket (``start_tls`` rather than ``create_connection(ssl=)``, which would
        time connect and handshake as one); the same Protocol then reads the decrypted bytes."""
        loop = self._loop
        ctx = self._tls
        if ctx is None:
            ctx = self._tls = build_context(self._settings)
        handshake_by = loop.time() + self._connect
        try:
            async with asyncio.timeout_at(min(handshake_by, deadline)):
                conn.transport = await loop.start_tls(transport, conn, ctx, server_hostname=host)
        except TimeoutError:
            self._drop(conn, transport)
            if handshake_by < deadline:
                raise HttpError(TLS_ERROR, HANDSHAKE_TIMEOUT) from None
            raise HttpError("timeout", f"TLS handshake with {host} cut by the total timeout") from None
        except Exception as exc:  # the server closed, reset or spoke no TLS: a named failure, counted
            self._drop(conn, transport)
            raise HttpError(TLS_ERROR, describe(exc) if isinstance(exc, ssl.SSLError) else
                            f"handshake failed: {exc or type(exc).__name__}") from None
        except BaseException:
            self._drop(conn, transport)
            raise
        conn.tls_host = host

    @staticmethod
    def _drop(conn: _Conn, transport: asyncio.Transport) -> None:
        transport.abort()
        conn.gone()

    def tls_sessions_reused(self) -> int:
        """Idle https:// connections whose handshake resumed a session (for tests and the bench)."""
        return sum(1 for pool in self._pools.values() for c in pool
                   if c.transport is not None and getattr(c.transport.get_extra_info("ssl_object"), "session_reused", False))

    def _close_one_idle(self) -> None:
        for c in (c for pool in self._pools.values() for c in pool if not c.closed):
            c.transport.close()  # type: ignore[union-attr]  # dropped from its pool when next met
            return

    def open_connections(self) -> int:
        return len(self._conns) + (self._fallback.open_connections() if self._fallback is not None else 0)

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for pool in self._pools.values():
            for c in pool:
                if not c.closed and c.transport is not None:
                    c.transport.close()
            pool.clear()
        if self._fallback is not None:
            await self._fallback.close()
        await asyncio.sleep(0)  # let the transports' connection_lost run


def _drop_header(line: bytes, lower_name: str) -> bytes:
    """Remove the pre-built Host or User-Agent line (the user's own header replaces it)."""
    i = line.lower().find(b"\r\n" + lower_name.encode() + b": ")
    return line if i < 0 else line[:i] + line[line.index(b"\r\n", i + 2):]
