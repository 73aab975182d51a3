"""Cookies and redirects, done once above the clients so that fast, aiohttp and httpx behave alike.

Every client sends exactly one request and never follows a redirect or keeps a cookie itself; this layer
does both, per virtual user, as Locust's users (requests) do:

* **Cookies** (``[http] cookies = true``): each :class:`~.steps.User` gets its own jar (aiohttp's
  ``CookieJar``: domain, path, expiry and ``Secure`` rules) at its first ``Set-Cookie``; a new user starts
  with none. A step's own ``Cookie`` header wins over the jar's. A response without ``Set-Cookie`` and a
  user without cookies cost one attribute read.
* **Redirects** (``follow_redirects = true``, at most ``max_redirects``): 301/302 turn a POST into a GET,
  303 turns anything but HEAD into a GET (the body is dropped), 307/308 keep the method and the body; a
  relative ``Location`` resolves against the current URL; ``Authorization`` (and an explicit ``Cookie``)
  is dropped when the host changes. One more redirect than allowed is the failure ``too many redirects``.
  The step is one sample under its own name, timed to the final response, which the checks see; every
  hop is counted in the endpoint's ``redirects``.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from ..profile.models import HttpSettings
from .clients.http import HttpError

__all__ = ["Follower", "REDIRECT_STATUSES", "set_cookie_values"]

REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_NO_COOKIES: tuple[str, ...] = ()
_HOST_BOUND = ("authorization", "proxy-authorization", "cookie")
"""Request headers that do not follow a redirect to another host."""
_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding")


def set_cookie_values(headers: Any) -> Any:
    """The ``Set-Cookie`` values of a response from any client (empty for most responses, cheaply)."""
    values = getattr(headers, "set_cookie", None)  # the fast client collects them while parsing
    if values is not None:
        return values
    getall = getattr(headers, "getall", None)  # aiohttp
    if getall is not None:
        return getall("Set-Cookie", _NO_COOKIES)
    return headers.get_list("set-cookie")  # httpx


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


class Follower:
    """Sends a step's request through the worker's client, with the user's cookies and redirects."""

    def __init__(self, client: Any, settings: HttpSettings) -> None:
        self.client = client
        self.cookies = settings.cookies
        self.follow = settings.follow_redirects
        self.max_redirects = settings.max_redirects

    async def send(self, user: Any, rec: Any, method: str, url: str, headers: dict[str, str] | None,
                   params: dict[str, str] | None, data: Any, json: Any) -> tuple[int, str, bytes, Any]:
        """(status, reason, body, headers) of the final response; raises :class:`HttpError`.

        ``HttpCall.run`` does the same inline (one coroutine less a request on the hot path)."""
        sent = self.with_cookies(user.cookies, url, headers) if user.cookies is not None else headers
        status, reason, body, resp_headers = await self.client.request(method, url, sent, params, data, json)
        if self.cookies:
            self.keep(user, url, resp_headers)
        if status in REDIRECT_STATUSES and self.follow:
            location = resp_headers.get("Location")
            if location is not None:
                return await self.redirect(user, rec, method, url, headers, data, json, status, location)
        return status, reason, body, resp_headers

    def keep(self, user: Any, url: str, resp_headers: Any) -> None:
        """Store the response's cookies in the user's jar (nothing to do for most responses)."""
        values = set_cookie_values(resp_headers)
        if values:
            self._store(user, url, values)

    async def redirect(self, user: Any, rec: Any, method: str, url: str, headers: dict[str, str] | None,
                        data: Any, json: Any, status: int, location: str) -> tuple[int, str, bytes, Any]:
        """Follow ``location`` (the first response's) and on, up to ``max_redirects`` hops.

        ``headers``: the step's own, without the jar's cookies (each hop asks the jar afresh)."""
        hops = 0
        while True:
            if hops >= self.max_redirects:
                raise HttpError("too many redirects", f"more than {self.max_redirects} redirects, the last to {location}")
            new_url = urldefrag(urljoin(url, location.strip()))[0]
            if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                method, data, json = "GET", None, None
                headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS} if headers else None
            if headers and _origin(new_url)[1:] != _origin(url)[1:]:
                headers = {k: v for k, v in headers.items() if k.lower() not in _HOST_BOUND}
            url = new_url
            hops += 1
            rec.redirects += 1
            sent = self.with_cookies(user.cookies, url, headers) if user.cookies is not None else headers
            status, reason, body, resp_headers = await self.client.request(method, url, sent, None, data, json)
            if self.cookies:
                self.keep(user, url, resp_headers)
            next_location = resp_headers.get("Location") if status in REDIRECT_STATUSES else None
            if next_location is None:
                return status, reason, body, resp_headers
            location = next_location

    @staticmethod
    def with_cookies(jar: Any, url: str, headers: dict[str, str] | None) -> dict[str, str] | None:
        from yarl import URL

        if headers and any(k.lower() == "cookie" for k in headers):
            return headers  # the step's own Cookie header wins, as with requests
        found = jar.filter_cookies(URL(url))
        if not found:
            return headers
        value = "; ".join(f"{m.key}={m.coded_value}" for m in found.values())
        return {**headers, "Cookie": value} if headers else {"Cookie": value}

    @staticmethod
    def _store(user: Any, url: str, values: Any) -> None:
        from aiohttp import CookieJar
        from yarl import URL

        parsed: SimpleCookie = SimpleCookie()
        for value in values:
            try:
                parsed.load(value)
            except CookieError:
                continue  # a malformed Set-Cookie is ignored, as browsers and requests do
        if not parsed:
            return
        if user.cookies is None:
            # unsafe: keep cookies of IP-address hosts (a target on 127.0.0.1); values sent as received
            user.cookies = CookieJar(unsafe=True, quote_cookie=False)
        user.cookies.update_cookies(parsed, URL(url))
