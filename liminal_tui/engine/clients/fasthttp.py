"""A minimal HTTP/1.1 keep-alive client on asyncio.Protocol + llhttp (httptools), for http:// and https://.

About a quarter of aiohttp's CPU a request (35 vs 140 us in bench/run.py): one ``transport.write`` per request
(request line and Host pre-built per URL), one future and no timer (one sweep per client every ``tick``
fails the requests past their deadline: a uvloop timer set and cancelled per request cost ~2-4 us),
response headers decoded only when used.
https:// uses the loop's own TLS transport (uvloop's or asyncio's ``start_tls`` on the connected socket, so
the TCP connect and the TLS handshake are timed apart) with one context per client (:mod:`.tls`: SNI, ALPN
``http/1.1``, sessions resumed on new connections). URLs with credentials go through a lazily created
:class:`AiohttpClient`. Errors carry the same names as the other clients (see :mod:`.http`).

The parts, each in its module:

    fasthttp.py    FastHttpClient: ``begin`` (the steps' path: the response's future, no coroutine between),
                   ``request``, idle connections pooled per (host, port, tls), the retry of a stale one,
                   the connection limit, connect and TLS handshake, the timeout sweep
    h1conn.py      Connection (the Protocol and its llhttp callbacks), Headers (the response's, with timings)
    h1request.py   Targets (URL -> pool key and request-line bytes, cached), encode (one request's bytes)
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from time import perf_counter_ns

from ...profile.models import HttpSettings
from .h1conn import Connection, Headers
from .h1request import URL_CACHE_MAX, Targets, encode
from .http import AiohttpClient, HttpError, _os_error_name
from .tls import HANDSHAKE_TIMEOUT, TLS_ERROR, ResumingContext, build_context, describe

__all__ = ["FastHttpClient", "Headers"]

class FastHttpClient:
    """HTTP/1.1 keep-alive pools per (host, port, tls); URLs with credentials delegated to aiohttp."""

    def __init__(self, settings: HttpSettings, connections: int = 0) -> None:
        self._settings, self._connections, t = settings, connections, settings.timeouts
        self._connect, self._read = float(t.connect), (float(t.read) if t.read else None)
        self._total = float(t.total) if t.total else 1e9
        self._limit = settings.max_connections or connections or 0
        self._sem = asyncio.Semaphore(self._limit) if self._limit else None
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._pools: dict[tuple[str, int, bool], list[Connection]] = {}  # idle connections, LIFO
        self._targets = Targets()
        """Each URL's pool key and request-line bytes (:mod:`.h1request`)."""
        self._bare: dict[str, dict[str, tuple]] = {}
        """method -> url -> (pool key, the whole request's bytes) for requests without headers, query or body."""
        self._conns: set[Connection] = set()
        """Every open connection, idle or busy (the sweep looks at the busy ones)."""
        self._tick = max(0.005, min(0.05, self._total / 20, (self._read or 1e9) / 20))
        """Seconds between sweeps: a timeout fires at most this late (50 ms, less for short limits)."""
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._fallback: AiohttpClient | None = None  # URLs with credentials
        self._tls: ResumingContext | None = None
        """Built at the first https:// connection (:func:`.tls.build_context`)."""

    def _prepare(self, method, url, headers, params, data, json) -> tuple | None:  # type: ignore[no-untyped-def]
        """(pool key, the request's bytes); None: a URL for aiohttp."""
        if headers or params or data is not None or json is not None:
            ent = self._targets.get(url)
            return None if ent is None else (ent[0], encode(method, ent, headers, params, data, json))
        bare = self._bare.get(method)  # a bare request (no headers, query or body): its bytes made once per URL
        if bare is None:
            bare = self._bare[method] = {}
        known = bare.get(url)
        if known is None:
            ent = self._targets.get(url)
            if ent is None:
                return None
            if len(bare) >= URL_CACHE_MAX:
                bare.clear()
            known = bare[url] = (ent[0], encode(method, ent, None, None, None, None))
        return known

    def begin(self, method, url, headers, params, data, json) -> asyncio.Future | None:  # type: ignore[no-untyped-def]
        """The common case without a coroutine: the request written on an idle keep-alive connection, and
        the one future its response resolves (``(status, reason, body, headers)`` or :class:`HttpError`),
        for the step to await directly. None: no idle connection, ``max_connections``, or a URL for
        aiohttp; then ``await request(...)``. The connection goes back to its pool by itself, a stale one
        is retried on a new connection by itself, and a cancelled wait is noticed by the sweep."""
        if self._sem is not None:
            return None
        prepared = self._prepare(method, url, headers, params, data, json)
        if prepared is None:
            return None
        pool = self._pools.get(prepared[0])
        if not pool:
            return None
        conn = pool[-1]
        if conn.closed or conn.transport.is_closing():  # type: ignore[union-attr]
            return None  # request() drops it and finds another
        pool.pop()
        return conn.start(prepared[1], method, self._loop.time() + self._total, self._read, True)

    async def request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        prepared = self._prepare(method, url, headers, params, data, json)
        if prepared is None:
            return await self._delegate(method, url, headers, params, data, json)
        key, payload = prepared
        if self._sem is not None:
            return await self._limited(key, method, payload)
        return await self._send(key, method, payload, (self._loop or self._start()).time() + self._total)

    async def _delegate(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        """A URL with credentials: through aiohttp."""
        self._fallback = self._fallback or AiohttpClient(self._settings, self._connections)
        return await self._fallback.request(method, url, headers, params, data, json)

    async def _limited(self, key, method, payload):  # type: ignore[no-untyped-def]
        """``max_connections``: wait for a free connection, within the request's total timeout."""
        sem = self._sem
        deadline = (self._loop or self._start()).time() + self._total
        try:
            async with asyncio.timeout_at(deadline):
                await sem.acquire()  # type: ignore[union-attr]
        except TimeoutError:
            raise HttpError("timeout", "no free connection in time") from None
        try:
            return await self._send(key, method, payload, deadline)
        finally:
            sem.release()  # type: ignore[union-attr]

    def _start(self) -> asyncio.AbstractEventLoop:
        """At the first request: the running loop, and the sweep's first timer."""
        loop = self._loop = asyncio.get_running_loop()
        self._sweeper = loop.call_at(loop.time() + self._tick, self._sweep)
        return loop

    def _sweep(self) -> None:
        """Fail the requests past their deadline or read timeout; again in ``tick`` seconds."""
        loop = self._loop
        now = loop.time()
        for conn in [c for c in self._conns if c.waiter is not None]:
            if conn.waiter.done():  # type: ignore[union-attr]  # its step was cancelled: the response unfinished
                conn.fail("timeout", "cancelled")
            else:
                conn.overdue(now)
        self._sweeper = None if self._closed else loop.call_at(now + self._tick, self._sweep)

    async def _send(self, key, method, payload, deadline, fresh=False):  # type: ignore[no-untyped-def]
        """On an idle connection of ``key``'s pool (not when ``fresh``), else on a new one."""
        pool = self._pools.get(key) or self._pools.setdefault(key, [])
        conn = None
        while pool and not fresh:
            c = pool.pop()
            if not c.closed and not c.transport.is_closing():  # type: ignore[union-attr]
                conn = c
                break
        reused = conn is not None
        if conn is None:
            conn = await self._new_conn(key, deadline)
        fut = conn.start(payload, method, deadline, self._read, reused)
        try:
            return await fut
        except HttpError:
            raise
        except BaseException:  # cancelled: the response is unfinished, the connection unusable
            conn.fail("timeout", "cancelled")
            raise

    def retry(self, waiter: asyncio.Future, conn: Connection) -> None:
        """A reused connection the server had closed (no byte of the response): the same request once
        more on a new connection, its outcome into ``waiter``."""
        task = self._loop.create_task(self._send(conn.key, conn.method, conn.payload, conn.deadline, fresh=True))

        def settle(t: asyncio.Task) -> None:
            if waiter.done():
                return
            if t.cancelled():
                waiter.cancel()
            elif t.exception() is not None:
                waiter.set_exception(t.exception())  # type: ignore[arg-type]
            else:
                waiter.set_result(t.result())

        task.add_done_callback(settle)
        waiter.add_done_callback(lambda w: task.cancel() if w.cancelled() else None)

    async def _new_conn(self, key: tuple[str, int, bool], deadline: float) -> Connection:
        loop = self._loop
        if self._limit and len(self._conns) >= self._limit:
            self._close_one_idle()
        host, port, tls = key
        connect_by = loop.time() + self._connect
        name = "connect timeout" if connect_by < deadline else "timeout"
        t0 = perf_counter_ns()
        try:
            async with asyncio.timeout_at(min(connect_by, deadline)):
                transport, conn = await loop.create_connection(lambda: Connection(self), host, port)
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
        conn.key, conn.pool = key, self._pools.setdefault(key, [])
        if tls:
            await self._handshake(conn, transport, host, deadline)
            conn.tls_ns = perf_counter_ns() - t1
        return conn  # type: ignore[return-value]

    async def _handshake(self, conn: Connection, transport: asyncio.Transport, host: str, deadline: float) -> None:
        """TLS on the connected socket (``start_tls`` rather than ``create_connection(ssl=)``, which would
        time connect and handshake as one); the same Protocol then reads the decrypted bytes."""
        loop = self._loop
        ctx = self.tls_context()
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
        conn.tls_host, conn.tls_object = host, conn.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]

    def tls_context(self) -> ResumingContext:
        """The client's TLS context, built at first use; the worker's WebSockets use it too."""
        if self._tls is None:
            self._tls = build_context(self._settings)
        return self._tls

    @staticmethod
    def _drop(conn: Connection, transport: asyncio.Transport) -> None:
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
        for c in [c for c in self._conns if c.waiter is not None and c.waiter.done()]:
            c.abort()  # a request whose step was cancelled since the last sweep
        if self._fallback is not None:
            await self._fallback.close()
        await asyncio.sleep(0)  # let the transports' connection_lost run
