"""The engine's clients: HTTP (three transports, one interface, identical metrics) and WebSocket.

    http.py       HttpClient (the interface), HttpError, AiohttpClient (on request), HttpxClient (HTTP/2)
    fasthttp.py   FastHttpClient: http:// and https:// on asyncio + llhttp and the loop's own TLS
    h1conn.py     its connection (the Protocol, llhttp callbacks) and response Headers
    h1request.py  its request bytes (URL cache, one request encoded for one write)
    tls.py        one TLS context per worker (CA bundle, mutual TLS, session reuse), TLS failures named
    ws.py         WsConnection: a virtual user's WebSocket (websockets)

Imports go one way, ``fasthttp -> h1conn, h1request -> http -> tls``; only :func:`make_client` here knows all three.
"""

from __future__ import annotations

from ...profile.models import HttpSettings
from .http import AiohttpClient, HttpClient, HttpError, HttpxClient

__all__ = ["HttpClient", "HttpError", "make_client"]


def make_client(settings: HttpSettings, connections: int = 0) -> HttpClient:
    """httpx for HTTP/2; for HTTP/1.1 the fast client (http:// and https://) unless ``client = "aiohttp"``."""
    if settings.http2:
        return HttpxClient(settings, connections)
    if settings.client != "aiohttp":
        from .fasthttp import FastHttpClient  # imported when used: httptools is not needed otherwise

        return FastHttpClient(settings, connections)
    return AiohttpClient(settings, connections)
