"""The fast client's request side: a URL turned once into its pool key and request-line bytes, and one
request encoded as the bytes of a single ``transport.write``.

:class:`Targets` caches, per URL, ``((host, port, tls), path, tail, line)`` where ``tail`` is
``b" HTTP/1.1\\r\\nHost: ..\\r\\nUser-Agent: liminal-tui\\r\\n"`` and ``line`` is ``b" <path>" + tail``
(``None``: a URL with credentials or another scheme, sent through aiohttp). :func:`encode` adds the
method, the profile's headers, the body and its ``Content-Type``/``Content-Length``.
"""

from __future__ import annotations

import json as jsonlib
import re
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

__all__ = ["Targets", "encode"]

URL_CACHE_MAX = 1024
_SAFE_PATH = "/%?=&;:@!$'()*+,~-._[]"
_PLAIN = re.compile(r"[^A-Za-z0-9_.~\-" + re.escape(_SAFE_PATH) + "]")
"""A character ``quote(.., safe=_SAFE_PATH)`` would change: a path without one is sent as written."""
_JSON = jsonlib.JSONEncoder(separators=(",", ":"))
"""One encoder for every JSON body: ``json.dumps`` with ``separators`` builds a new one each call (~2 us)."""


class Targets:
    """url -> ((host, port, tls), path, tail, line), cached (at most ``URL_CACHE_MAX`` URLs and origins)."""

    __slots__ = ("_urls", "_origins")

    def __init__(self) -> None:
        self._urls: dict[str, tuple | None] = {}  # url -> parse(url)
        self._origins: dict[str, tuple] = {}  # "scheme://netloc" -> ((host, port, tls), request line tail)

    def get(self, url: str) -> tuple | None:
        ent = self._urls.get(url, False)
        if ent is False:
            ent = self.parse(url)
            if len(self._urls) >= URL_CACHE_MAX:
                self._urls.clear()
            self._urls[url] = ent
        return ent  # type: ignore[return-value]

    def parse(self, url: str) -> tuple | None:
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
        if len(self._origins) >= URL_CACHE_MAX:
            self._origins.clear()
        self._origins[f"{parts.scheme}://{parts.netloc}"] = (key, tail)
        return key, path, tail, b" " + path.encode() + tail


def encode_body(json: Any, data: Any) -> tuple[bytes | None, bytes | None]:
    """A request's body and its default Content-Type: JSON (compact), text (UTF-8) or bytes; or none.
    Shared by the HTTP/1.1 and HTTP/2 clients."""
    if json is not None:
        return _JSON.encode(json).encode(), b"application/json"
    if isinstance(data, str):
        return data.encode(), b"text/plain; charset=utf-8"
    if data is not None:
        return bytes(data), b"application/octet-stream"
    return None, None


def encode(method: str, ent: tuple, headers: dict[str, str] | None, params: dict[str, str] | None,
           data: bytes | str | None, json: Any) -> bytes:
    """The whole request as one ``bytes``: request line, Host, User-Agent, the profile's headers, body."""
    _, path, tail, line = ent
    if params:
        line = b" " + (path + ("&" if "?" in path else "?") + urlencode(params)).encode() + tail
    parts = [method.encode(), line]
    body, ctype = encode_body(json, data)
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
    return b"".join(parts)


def _drop_header(line: bytes, lower_name: str) -> bytes:
    """Remove the pre-built Host or User-Agent line (the user's own header replaces it)."""
    i = line.lower().find(b"\r\n" + lower_name.encode() + b": ")
    return line if i < 0 else line[:i] + line[line.index(b"\r\n", i + 2):]
