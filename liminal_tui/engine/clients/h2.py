"""HTTP/2 on the ``h2`` library over asyncio: the client of ``[http] http2 = true``.

The virtual users' requests are streams multiplexed over few connections per worker (:mod:`.h2conn`): a
request takes the first connection to its origin with fewer than ``http2_streams`` streams in flight (the
server's ``max_concurrent_streams`` lowers that), and a new connection opens only when every one is full
and ``max_connections`` allows (else it waits for a stream on the least busy one). TLS is the loop's own,
as in the fast HTTP/1.1 client (:mod:`.tls`: one context per client, ALPN ``h2``/``http/1.1``, sessions
resumed); TCP connect, TLS handshake and first byte are timed on the fast client's :class:`.fasthttp.Headers`.
A new connection takes streams once the server's SETTINGS came (its stream limit is then known).

Failures keep the names of :mod:`.http`; HTTP/2 adds ``stream reset`` (RST_STREAM, with its error code)
and ``goaway`` (a stream the server did not process because of its GOAWAY, again after one more try on
another connection). http:// URLs (unless ``http2_cleartext``: then HTTP/2 from the first byte, h2c with
prior knowledge), URLs with credentials, and servers that choose HTTP/1.1 in
ALPN go through the HTTP/1.1 client the profile picks (``fallback``).
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import ssl
from time import perf_counter_ns
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit

from hpack import NeverIndexedHeaderTuple as _Varying

from ...profile.models import HttpSettings
from .h1conn import Headers
from .h1request import encode_body
from .h2conn import H2Conn, H2Headers, H2Stream
from .http import HttpClient, HttpError, _os_error_name
from .tls import HANDSHAKE_TIMEOUT, TLS_ERROR, ResumingContext, build_context, describe

__all__ = ["H2Client"]

_DROPPED = frozenset(("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
                      "content-length", "host", "te"))
"""Request headers HTTP/2 forbids (Host becomes ``:authority``; Content-Length is ours)."""
_VARYING = frozenset(("cookie", "authorization"))
"""Request headers whose values differ between users or requests: like ``:path`` and ``content-length``,
sent as HPACK literals that stay out of the dynamic table (``_Varying``: hpack has no plain "without
indexing" choice), so that the table, and the encoder's remembered bytes (:mod:`.h2hpack`), stay put."""
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE"))
_UA = (b"user-agent", b"liminal-tui")
_H1 = ("h1", "")
"""What a connection attempt returns when the server chose HTTP/1.1 in ALPN."""
_CACHE_MAX = 1024
_SAFE = "/%?=&;:@!$'()*+,~-._[]"
"""Characters of a path and query sent as written (the fast client's set)."""
_PLAIN = re.compile(r"[^A-Za-z0-9_.~\-" + re.escape(_SAFE) + "]")
"""A character ``quote`` would change: a path of a known origin without one skips ``urlsplit``."""


class H2Client:
    """HTTP/2 streams over few connections per origin; everything else through ``fallback``."""

    timed_types = (H2Headers, Headers)
    """Responses that carry connection timings: its own, and the fast client's when it falls back."""

    def __init__(self, settings: HttpSettings, fallback: Callable[[], HttpClient], connections: int = 0) -> None:
        t = settings.timeouts
        self._settings, self._fallback_factory = settings, fallback
        self._connect, self._read = float(t.connect), (float(t.read) if t.read else None)
        self._total = float(t.total) if t.total else 1e9
        self._limit = settings.max_connections
        self._streams = settings.http2_streams
        self._cleartext = settings.http2_cleartext
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._pools: dict[tuple[str, int, bool], list[H2Conn]] = {}
        """Open connections per origin that take new streams."""
        self._all: set[H2Conn] = set()
        self._h1: set[tuple[str, int, bool]] = set()
        """Origins whose server chose HTTP/1.1 in ALPN: the fallback serves them."""
        self._urls: dict[str, tuple | None] = {}
        self._origins: dict[str, tuple] = {}
        """"https://netloc" -> ((host, port, tls), authority): a chain's ``/items/${id}`` is a new URL each time."""
        self._tls: ResumingContext | None = None
        self._fallback: HttpClient | None = None
        self._tick = max(0.005, min(0.05, self._total / 20, (self._read or 1e9) / 20))
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    def _parse(self, url: str) -> tuple | None:
        """url -> ((host, port, tls), authority, path); None for anything HTTP/2 does not serve here."""
        i = url.find("/", 8)
        if i > 0:
            known = self._origins.get(url[:i])
            if known is not None:
                path = url[i:]
                if _PLAIN.search(path) is None and path[-1] != "?":
                    return known[0], known[1], path
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        if not (tls or (parts.scheme == "http" and self._cleartext)) or "@" in parts.netloc or not parts.hostname:
            return None
        path = quote(parts.path or "/", safe=_SAFE) + ("?" + quote(parts.query, safe=_SAFE) if parts.query else "")
        if len(self._origins) >= _CACHE_MAX:
            self._origins.clear()
        key, authority = self._origins[f"{parts.scheme}://{parts.netloc}"] = (
            (parts.hostname, parts.port or (443 if tls else 80), tls), parts.netloc.encode())
        return key, authority, path

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
        hdrs = [(b":method", method.encode()), (b":scheme", b"https" if key[2] else b"http"), (b":authority", authority),
                _Varying(b":path", path.encode())]
        body, ctype = encode_body(json, data)
        ua = True
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
                hdrs.append(_Varying(lk.encode(), v.encode()) if lk in _VARYING else (lk.encode(), v.encode()))
        if ua:
            hdrs.append(_UA)
        if body is not None:
            if ctype is not None:
                hdrs.append((b"content-type", ctype))
            hdrs.append(_Varying(b"content-length", b"%d" % len(body)))
        elif method in ("POST", "PUT", "PATCH"):
            hdrs.append(_Varying(b"content-length", b"0"))
        deadline = self._loop_time() + self._total
        why = ("goaway", "")
        for _attempt in (0, 1):
            conn, opened = await self._conn_for(key, deadline)
            if conn is None:  # the server speaks HTTP/1.1
                return await self._h1_request(method, url, headers, params, data, json)
            st = H2Stream(self._loop.create_future(), hdrs, body, method in _IDEMPOTENT, deadline, self._loop.time())
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

    async def _conn_for(self, key: tuple[str, int, bool], deadline: float) -> tuple[H2Conn | None, tuple[int, int] | None]:
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

    async def _open(self, key: tuple[str, int, bool], pool: list[H2Conn], deadline: float) -> tuple[H2Conn | None, tuple[int, int] | None]:
        conn = H2Conn(self, key)
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
                elif conn.transport is not None:  # failed or cancelled after the TCP connect
                    conn.transport.abort()
            conn.ready.set_result(err)
        if err is _H1:
            return None, None
        if err is not None:
            raise HttpError(*err)
        return conn, timings

    async def _dial(self, conn: H2Conn, key: tuple[str, int, bool], deadline: float) -> tuple[Any, tuple[int, int]]:
        """TCP connect, then TLS on the connected socket (timed apart); (failure or None, (connect, tls) ns)."""
        loop, (host, port, tls) = self._loop, key
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
        timings = (t1 - t0, -1)
        if tls:
            err = await self._handshake(conn, transport, host, deadline)
            if err is not None:
                return err, timings
            timings = (t1 - t0, perf_counter_ns() - t1)
            if conn.transport.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":  # type: ignore[union-attr]
                conn.transport.close()  # type: ignore[union-attr]
                return _H1, timings
            conn.tls_host = host
        conn.start()
        settle_by = loop.time() + self._connect
        try:
            async with asyncio.timeout_at(min(settle_by, deadline)):
                err = await conn.settled
        except TimeoutError:
            conn.transport.abort()  # type: ignore[union-attr]
            err = ("connect timeout" if settle_by < deadline else "timeout", f"no HTTP/2 SETTINGS from {host} in time")
        return err, timings

    async def _handshake(self, conn: H2Conn, transport: asyncio.Transport, host: str, deadline: float) -> tuple[str, str] | None:
        """TLS on the connected socket, the same Protocol reading the decrypted bytes; a failure, or None."""
        loop, ctx = self._loop, self._tls
        if ctx is None:
            ctx = self._tls = build_context(self._settings, alpn=("h2", "http/1.1"))
        handshake_by = loop.time() + self._connect
        try:
            async with asyncio.timeout_at(min(handshake_by, deadline)):
                conn.transport = await loop.start_tls(transport, conn, ctx, server_hostname=host)
        except TimeoutError:
            transport.abort()
            if handshake_by < deadline:
                return TLS_ERROR, HANDSHAKE_TIMEOUT
            return "timeout", f"TLS handshake with {host} cut by the total timeout"
        except Exception as exc:  # the server closed, reset or spoke no TLS: a named failure, counted
            transport.abort()
            return TLS_ERROR, describe(exc) if isinstance(exc, ssl.SSLError) else f"handshake failed: {exc or type(exc).__name__}"
        except BaseException:
            transport.abort()
            raise
        return None

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
                conn.flush()
                conn.transport.close()
        if self._fallback is not None:
            await self._fallback.close()
        await asyncio.sleep(0)  # let the transports' connection_lost run


