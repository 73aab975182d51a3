"""The aiohttp server behind ``liminal-tui --web``: the page, textual-serve's static files, one app per tab.

Routes: ``/`` the page (its WebSocket URL built from the request's Host), ``/ws`` a session,
``/static/…`` xterm.js, textual.js and the Roboto Mono font from textual-serve's wheel (no listings).
:mod:`.security` decides who may ask; :mod:`.session` runs and stops each tab's app.

Why not a subclass of textual-serve's ``Server``: what it would keep is little (its ``serve()`` and
logging), and nearly everything else had to change: its page (Google Fonts, URLs fixed at start), its
routes (``show_index=True`` on /static; ``_make_app`` is private), its index and WebSocket handlers (no
Origin check, no cap, its AppService) and its start-up banner. Its download route is left out: the app
delivers no files. What is reused is what does the real work: ``AppService`` (the framing protocol to the
app's WebDriver) and the static files, so the pin on textual-serve (1.1.x) guards two private methods of
``AppService`` rather than a whole server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractAccessLogger

from .security import TOKEN_PARAM, access_middleware, forwarded_host, is_loopback, new_token, origin_allowed, secure_request
from .session import AppSession

__all__ = ["DEFAULT_PORT", "WebConfig", "WebServer", "browser_url", "make_config", "run", "serve"]

log = logging.getLogger("liminal_tui.web")

DEFAULT_PORT = 8089
"""Locust's web UI port: the muscle memory of the people this replaces it for."""
STATIC = Path(textual_serve.__file__).parent / "static"
"""textual-serve's own files: textual.js (xterm.js and its add-ons), xterm.css, the Roboto Mono font."""
CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'none'")
"""Nothing from another origin, whatever a bug in a page or a library tries (textual.js injects its styles)."""


@dataclass(frozen=True)
class WebConfig:
    """What ``liminal-tui --web`` was asked for."""

    host: str = "127.0.0.1"
    """Address to listen on; anything but loopback requires the token."""
    port: int = DEFAULT_PORT
    """TCP port; 0 picks a free one (the URL printed at start has the real one)."""
    token: str | None = None
    """Required in the URL once, then in a cookie; None serves loopback names without one."""
    max_sessions: int = 4
    """Tabs open at once: each is a full app that can run load, so they are capped."""
    stop_grace: float = 40.0
    """Seconds a closed tab's app gets to stop its run (5 s for in-flight requests, the app's own 30 s
    guard) and write its report, before its processes are killed."""
    command: tuple[str, ...] = field(default_factory=lambda: (sys.executable, "-m", "liminal_tui"))
    """The app, one process per tab, started without a shell in the server's working directory."""


class AccessLogger(AbstractAccessLogger):
    """One line a request, with the path only: a query string (where the token travels) is never logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %d %.0fms", request.remote, request.method, request.path, response.status,
                         time * 1000)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class WebServer:
    """The page, the static files and the sessions, as an aiohttp application (:meth:`make_app`)."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.sessions: set[AppSession] = set()
        """Sessions whose app is running or still stopping (they count against ``max_sessions``)."""
        self.refused = {"origin": 0, "full": 0}
        """Upgrades refused, by reason."""
        templates = jinja2.Environment(loader=jinja2.PackageLoader("liminal_tui.web", "templates"),
                                       autoescape=True)
        self.page = templates.get_template("index.html")

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[_headers, access_middleware(self.config.token)])
        app.add_routes([
            web.get("/", self.index),
            web.get("/ws", self.websocket),
            web.static("/static", STATIC, show_index=False, follow_symlinks=False),
        ])
        app.on_shutdown.append(self.stop_all)
        return app

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.config.max_sessions

    def _busy(self) -> web.HTTPServiceUnavailable:
        return web.HTTPServiceUnavailable(
            text=f"liminal-tui: all {self.config.max_sessions} sessions are in use (see --max-sessions); "
                 f"close a tab, then reload this one\n")

    async def index(self, request: web.Request) -> web.Response:
        if self.full:
            raise self._busy()
        scheme = "wss" if secure_request(request) else "ws"
        nonce = secrets.token_urlsafe(16)
        html = self.page.render(title="liminal-tui", nonce=nonce, font_size=_number(request.query.get("fontsize"), 16, 6, 64),
                                websocket_url=f"{scheme}://{forwarded_host(request)}/ws")
        return web.Response(text=html, content_type="text/html",
                            headers={"Content-Security-Policy": CSP.format(nonce=nonce), "Cache-Control": "no-store"})

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        if not origin_allowed(request):
            self.refused["origin"] += 1
            log.warning("refused a session from origin %r (this page is %s)",
                        request.headers.get("Origin", "")[:100], forwarded_host(request)[:100])
            raise web.HTTPForbidden(text="liminal-tui: the page that opened this connection is from another origin\n")
        if self.full:
            self.refused["full"] += 1
            raise self._busy()
        ws = web.WebSocketResponse(heartbeat=15)
        session = AppSession(self.config.command, ws, grace=self.config.stop_grace)
        self.sessions.add(session)
        try:
            await ws.prepare(request)
            await session.start(_number(request.query.get("width"), 80, 10, 1000),
                                _number(request.query.get("height"), 24, 5, 1000))
            log.info("session %s: app started (pid %s), %d of %d sessions in use", session.app_service_id[:8],
                     session.pid, len(self.sessions), self.config.max_sessions)
            await _relay(ws, session)
        finally:
            # A server shutdown may cancel this handler: stop() carries on (shielded) and stop_all waits for it.
            try:
                await session.stop()
            finally:
                self.sessions.discard(session)
        return ws

    async def stop_all(self, app: web.Application | None = None) -> None:
        """Every tab's app gets its SIGTERM now, and its grace period, in parallel; their pages then
        show "Session ended" (the app's exit closes each WebSocket)."""
        await asyncio.gather(*(session.stop() for session in list(self.sessions)))


async def _relay(ws: web.WebSocketResponse, session: AppSession) -> None:
    """The browser's messages (keys, resizes, focus) to the app, until the tab goes."""
    malformed = 0
    async for message in ws:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope = json.loads(message.data)
        except ValueError:
            malformed += 1
            continue
        kind = envelope[0] if isinstance(envelope, list) and envelope else None
        data = envelope[1] if isinstance(envelope, list) and len(envelope) > 1 else None
        if kind == "stdin" and isinstance(data, str):
            await session.send_bytes(data.encode("utf-8"))
        elif kind == "resize" and isinstance(data, dict):
            await session.set_terminal_size(_number(data.get("width"), 80, 10, 1000), _number(data.get("height"), 24, 5, 1000))
        elif kind == "ping":
            await ws.send_json(["pong", data])
        elif kind == "blur":
            await session.blur()
        elif kind == "focus":
            await session.focus()
        else:
            malformed += 1
    if malformed:
        log.warning("session %s: %d malformed message(s) from the browser ignored", session.app_service_id[:8], malformed)


def _number(value: Any, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(value), low), high)
    except (TypeError, ValueError):
        return default


@web.middleware
async def _headers(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Headers for every answer, refusals included: no Referer leaves the page, no sniffing, no framing."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _secure_headers(response)
        raise
    _secure_headers(response)
    return response


def _secure_headers(response: web.StreamResponse) -> None:
    if response.prepared:  # a WebSocket is past its headers
        return
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")


def browser_url(config: WebConfig, port: int) -> str:
    """The URL to print: this host's name when listening on every address, the token in the query."""
    import socket

    host = config.host
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{port}/"
    return f"{url}?{TOKEN_PARAM}={config.token}" if config.token else url


async def serve(config: WebConfig, ready: Callable[[str], None] | None = None) -> int:
    """Serve until SIGINT/SIGTERM/SIGHUP; then every open tab's app stops its run and writes its report."""
    server = WebServer(config)
    runner = web.AppRunner(server.make_app(), access_log_class=AccessLogger, access_log=log, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(f"liminal-tui: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    port = runner.addresses[0][1]
    url = browser_url(config, port)
    print(f"liminal-tui in a browser: {url}", flush=True)
    if config.token:
        print("  (the token is shown only here; opening the URL swaps it for a cookie)", flush=True)
    print(f"  up to {config.max_sessions} tab(s) at once; Ctrl-C stops the server and the runs of open tabs "
          "(their reports are written)", flush=True)
    if ready is not None:
        ready(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stopping: %d session(s) open", len(server.sessions))
        await server.stop_all()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    return 0


def make_config(host: str, port: int, *, token: bool, max_sessions: int) -> WebConfig:
    """The command line's choice: a fresh token whenever ``host`` is not loopback, or when asked for."""
    return WebConfig(host=host, port=port, max_sessions=max_sessions,
                     token=new_token() if token or not is_loopback(host) else None)


def run(host: str, port: int, *, token: bool, max_sessions: int) -> int:
    """``liminal-tui --web``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    return asyncio.run(serve(make_config(host, port, token=token, max_sessions=max_sessions)))
