"""The engine's clients: HTTP (four transports, one interface, identical metrics) and WebSocket.

    http.py       HttpClient (the interface), HttpError, AiohttpClient (on request), HttpxClient (on request)
    fasthttp.py   FastHttpClient: http:// and https:// on asyncio + llhttp and the loop's own TLS
    h1conn.py     its connection (the Protocol, llhttp callbacks) and response Headers
    h1request.py  its request bytes (URL cache, one request encoded for one write)
    h2.py         H2Client: HTTP/2 streams over few TLS connections (h2 library), HTTP/1.1 through the above;
                  h2conn.py one connection (an asyncio Protocol over h2), h2hpack.py HPACK blocks remembered
    tls.py        one TLS context per worker (CA bundle, mutual TLS, session reuse), TLS failures named
    ws.py         WsConnection: a virtual user's WebSocket (websockets)

Imports go one way, ``h2 -> h2conn -> fasthttp -> h1conn, h1request -> http -> tls``; only :func:`make_client`
here knows them all.
"""

from __future__ import annotations

from ...profile.models import HttpSettings
from .http import AiohttpClient, HttpClient, HttpError, HttpxClient

__all__ = ["HttpClient", "HttpError", "make_client"]


def make_client(settings: HttpSettings, connections: int = 0) -> HttpClient:
    """For HTTP/1.1 the fast client (http:// and https://) unless ``client = "aiohttp"``; with ``http2``
    the h2 client over that one; httpx for everything with ``client = "httpx"``."""
    if settings.client == "httpx":
        return HttpxClient(settings, connections)
    if settings.http2:
        from .h2 import H2Client

        return H2Client(settings, lambda: _http1(settings, connections), connections)
    return _http1(settings, connections)


def _http1(settings: HttpSettings, connections: int) -> HttpClient:
    if settings.client != "aiohttp":
        from .fasthttp import FastHttpClient  # imported when used: httptools is not needed otherwise

        return FastHttpClient(settings, connections)
    return AiohttpClient(settings, connections)
