"""Who may open the app in a browser, and from which page.

Three checks, all in :func:`access_middleware` and :func:`origin_allowed`:

- **Token.** Required whenever the server listens on an address other than loopback (and on loopback
  with ``--token``). ``/?token=…`` is exchanged once for an HttpOnly, SameSite=Strict cookie and
  redirected to the same URL without the token, so it stays out of the address bar, the history and any
  ``Referer``. Every other request needs the cookie (403 otherwise).
- **Host**, on loopback without a token: only a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``)
  is served. A page on another site that re-points its own name at 127.0.0.1 (DNS rebinding) gets 403.
- **Origin** of a WebSocket upgrade must be the page's own (the request's Host, or the
  ``X-Forwarded-Host`` a reverse proxy set): a page from another origin cannot open a session (403).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["COOKIE", "TOKEN_PARAM", "access_middleware", "forwarded_host", "is_loopback", "new_token",
           "origin_allowed", "secure_request"]

TOKEN_PARAM = "token"
"""The query parameter of the URL printed at start."""
COOKIE = "liminal_web_token"
"""The cookie the token is exchanged for (HttpOnly, SameSite=Strict, this server's paths only)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    """A random token: 32 bytes from the OS, URL-safe."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1`` (an address to bind or a Host header's name)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hostname(netloc: str) -> str:
    """The name part of ``host[:port]`` (IPv6 in brackets)."""
    return urlsplit(f"//{netloc}").hostname or ""


def forwarded_host(request: web.Request) -> str:
    """The host the browser used: a reverse proxy's ``X-Forwarded-Host``, else the Host header."""
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    return forwarded or request.host


def secure_request(request: web.Request) -> bool:
    """The browser reached us over TLS (directly, or through a proxy that says so)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip() == "https"


def origin_allowed(request: web.Request) -> bool:
    """The upgrade's Origin names the host the page was served from (a missing Origin is refused)."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    hosts = {request.host.lower()}
    if "X-Forwarded-Host" in request.headers:
        hosts.add(forwarded_host(request).lower())
    default = {"http": ":80", "https": ":443"}[parts.scheme]
    netloc = parts.netloc.lower()
    return netloc in hosts or netloc + default in hosts  # browsers leave the default port out of Origin


def _forbidden(reason: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=f"liminal-tui: {reason}\n")


def access_middleware(token: str | None) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The token (or, without one, a loopback Host) in front of every route."""

    @web.middleware
    async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is None:
            if not is_loopback(_hostname(request.host)):
                raise _forbidden("this server answers to localhost only; start it with --token to use another name")
            return await handler(request)
        offered = request.query.get(TOKEN_PARAM)
        if offered is not None:
            if not hmac.compare_digest(offered.encode(), token.encode()):
                raise _forbidden("wrong token")
            query = request.rel_url.query.copy()
            del query[TOKEN_PARAM]
            clean = request.rel_url.with_query(query)
            response = web.HTTPSeeOther(location=str(clean))
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/",
                                secure=secure_request(request))
            raise response
        if not hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), token.encode()):
            raise _forbidden("a token is required: open the URL printed when the server started")
        return await handler(request)

    return access
