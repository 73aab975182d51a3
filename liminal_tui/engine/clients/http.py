"""One small HTTP client interface, three transports with identical metrics.

Measured here (bench/run.py, CPU per request on one core): the fast client of ``fasthttp.py``
(asyncio + httptools/llhttp) ~36 us, for http:// and https://; aiohttp ~135-180 us, on request
(``http.client = "aiohttp"``); httpx 500-3,000 us, only where HTTP/2 is asked for. All three take their
TLS context from :func:`.tls.build_context` (CA bundle, client certificate, verification).

Failures are turned into short stable error names that group well in reports:
``connect refused``, ``connect timeout``, ``timeout``, ``connection reset``, ``server disconnected``,
``incomplete body``, ``bad response``, ``header too large``, ``dns failure``, ``tls error``,
``connection error`` (and, from :mod:`.follow`, ``too many redirects``). A ``tls error`` carries the same
message in every client (:func:`.tls.describe`): ``certificate verify failed: <why>``, ``handshake timeout``,
``certificate required by the server (set http.client_cert)``, ``handshake failed: <reason>``.

No client follows redirects or keeps cookies itself: :mod:`.follow` does both for every client alike.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from typing import Any, Protocol

from ...profile.models import HttpSettings
from .tls import (CERT_REQUIRED, HANDSHAKE_TIMEOUT, TLS_ERROR, build_context, closed_after_handshake, describe,
                  handshake_started, watch)

__all__ = ["HttpClient", "HttpError", "AiohttpClient", "HttpxClient", "MAX_HEADER_BYTES"]

MAX_HEADER_BYTES = 65536
"""Longest response header name or value the HTTP/1.1 clients accept (64 KiB); a longer one is the
failure ``header too large`` in the fast client and in aiohttp alike."""


class HttpError(Exception):
    """A request that failed before a complete response arrived."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


class HttpClient(Protocol):
    async def request(
        self, method: str, url: str, headers: dict[str, str] | None, params: dict[str, str] | None,
        data: bytes | str | None, json: Any,
    ) -> tuple[int, str, bytes, Any]:
        """Send one request; return (status, reason, body, headers) or raise :class:`HttpError`."""

    def open_connections(self) -> int: ...

    async def close(self) -> None: ...


def _os_error_name(exc: BaseException) -> str | None:
    while exc is not None:
        if isinstance(exc, ConnectionRefusedError):
            return "connect refused"
        if isinstance(exc, ConnectionResetError) or getattr(exc, "errno", None) == errno.ECONNRESET:
            return "connection reset"
        if isinstance(exc, ssl.SSLError):
            return "tls error"
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


def _os_failure(exc: BaseException, message: str, default: str = "connection error") -> HttpError:
    name = _os_error_name(exc) or default
    return HttpError(name, describe(exc) if name == TLS_ERROR else message)


_CLOSED = frozenset(("server disconnected", "connection reset", "connection error"))


def _tls_named(exc: HttpError, marker: list, client_cert: str | None) -> HttpError:
    """The fast client's names for what aiohttp and httpx report otherwise, on a connection the request
    opened (``marker``, :func:`.tls.watch`): a connect timeout once the TLS handshake began is ``tls error:
    handshake timeout``, and a close right after a TLS 1.3 handshake without a client certificate is
    ``tls error: certificate required ...`` (:func:`.tls.closed_after_handshake`)."""
    if not handshake_started(marker):
        return exc
    if exc.name == "connect timeout":
        return HttpError(TLS_ERROR, HANDSHAKE_TIMEOUT)
    if exc.name in _CLOSED and closed_after_handshake(marker[0], client_cert):
        return HttpError(TLS_ERROR, CERT_REQUIRED)
    return exc


class _TlsNamed:
    """``request`` for the library clients: an https:// failure is named as the fast client names it
    (:func:`_tls_named`); the subclass's ``_request`` does the work."""

    _client_cert: str | None = None

    async def request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        if not url.startswith("https:"):
            return await self._request(method, url, headers, params, data, json)
        marker = watch()
        try:
            return await self._request(method, url, headers, params, data, json)
        except HttpError as exc:
            raise _tls_named(exc, marker, self._client_cert) from None

    async def _request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        raise NotImplementedError


class AiohttpClient(_TlsNamed):
    """aiohttp with one session (and connection pool) per worker."""

    def __init__(self, settings: HttpSettings, connections: int = 0) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        t = settings.timeouts
        self._timeout = aiohttp.ClientTimeout(total=t.total or None, sock_connect=t.connect, sock_read=t.read)
        limit = settings.max_connections or connections or 0
        self._connector = aiohttp.TCPConnector(
            limit=limit, limit_per_host=0, ssl=build_context(settings),
            ttl_dns_cache=300, enable_cleanup_closed=False,
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector, timeout=self._timeout, auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(), headers={"User-Agent": "liminal-tui"},
            max_field_size=MAX_HEADER_BYTES, max_line_size=MAX_HEADER_BYTES,
        )
        self._client_cert = settings.client_cert

    async def _request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        aiohttp = self._aiohttp
        try:
            async with self._session.request(
                method, url, headers=headers, params=params, data=data, json=json, allow_redirects=False
            ) as resp:
                body = await resp.read()
                return resp.status, resp.reason or "", body, resp.headers
        except aiohttp.ClientConnectorCertificateError as exc:
            raise HttpError(TLS_ERROR, describe(exc.certificate_error)) from None
        except aiohttp.ClientConnectorError as exc:
            name = _os_error_name(exc.os_error) or ("dns failure" if "Name or service" in str(exc) else "connect error")
            if isinstance(exc, aiohttp.ClientSSLError) or name == TLS_ERROR:
                raise HttpError(TLS_ERROR, describe(exc.os_error)) from None
            raise HttpError(name, str(exc)) from None
        except aiohttp.ConnectionTimeoutError as exc:
            raise HttpError("connect timeout", str(exc) or "connect timed out") from None
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise HttpError("timeout", str(exc) or "no response in time") from None
        except aiohttp.ServerDisconnectedError as exc:
            raise HttpError("server disconnected", str(exc) or "server closed the connection") from None
        except aiohttp.ClientPayloadError as exc:
            raise HttpError(_os_error_name(exc) or "incomplete body", str(exc)) from None
        except aiohttp.ClientResponseError as exc:
            message = str(exc.message) or str(exc)
            if message.startswith(f"Got more than {MAX_HEADER_BYTES} bytes"):  # aiohttp's LineTooLong
                raise HttpError("header too large", f"a response header over {MAX_HEADER_BYTES} bytes") from None
            raise HttpError("bad response", message) from None
        except aiohttp.ClientOSError as exc:
            raise _os_failure(exc, str(exc)) from None
        except aiohttp.ClientError as exc:
            raise _os_failure(exc, f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise _os_failure(exc, str(exc)) from None

    def open_connections(self) -> int:
        conns = getattr(self._connector, "_conns", {})
        acquired = getattr(self._connector, "_acquired", ())
        return len(acquired) + sum(len(v) for v in conns.values())

    async def close(self) -> None:
        await self._session.close()


class HttpxClient(_TlsNamed):
    """httpx with HTTP/2 (one client multiplexes streams over few connections)."""

    def __init__(self, settings: HttpSettings, connections: int = 0) -> None:
        from http.cookiejar import CookieJar, DefaultCookiePolicy

        import httpx

        self._httpx = httpx
        t = settings.timeouts
        limit = settings.max_connections or connections or None
        self._client = httpx.AsyncClient(
            http2=settings.http2,
            verify=build_context(settings, alpn=()),  # httpcore sets ALPN (h2, http/1.1) itself
            timeout=httpx.Timeout(t.total, connect=t.connect, read=t.read if t.read is not None else t.total),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            headers={"User-Agent": "liminal-tui"},
            follow_redirects=False,
            # A client-wide jar would share one user's cookies with all: a jar that accepts none
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        self._client_cert = settings.client_cert

    async def _request(self, method, url, headers, params, data, json):  # type: ignore[no-untyped-def]
        httpx = self._httpx
        try:
            resp = await self._client.request(
                method, url, headers=headers, params=params, content=data, json=json
            )
            return resp.status_code, resp.reason_phrase, resp.content, resp.headers
        except httpx.ConnectTimeout as exc:
            raise HttpError("connect timeout", str(exc) or "connect timed out") from None
        except httpx.TimeoutException as exc:
            raise HttpError("timeout", str(exc) or "no response in time") from None
        except httpx.ConnectError as exc:
            raise _os_failure(exc, str(exc), "connect error") from None
        except httpx.RemoteProtocolError as exc:
            text = str(exc)
            name = "server disconnected" if "disconnected" in text else "bad response"
            raise HttpError(name, text) from None
        except httpx.ReadError as exc:
            raise _os_failure(exc, str(exc), "connection reset") from None
        except httpx.HTTPError as exc:
            raise _os_failure(exc, f"{type(exc).__name__}: {exc}") from None
        except ssl.SSLError as exc:  # httpcore lets a TLS alert read after the handshake through unwrapped
            raise HttpError(TLS_ERROR, describe(exc)) from None

    def open_connections(self) -> int:
        pool = getattr(getattr(self._client, "_transport", None), "_pool", None)
        return len(getattr(pool, "connections", ())) if pool is not None else 0

    async def close(self) -> None:
        await self._client.aclose()

