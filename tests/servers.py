"""A purpose-built target for engine tests: every fault a load tester must survive, on demand.

HTTP routes (all counted per path in ``state.counts``; ``/_stats`` and ``/_control/*`` are not):

``/ok``                      200 at once
``/delay/{ms}``              200 after ``ms`` milliseconds
``/stall``                   200, but first waits while the stall switch is on (``state.stall_until``)
``/stall-once/{n}/{ms}``     the n-th request to this path waits ``ms`` milliseconds, the others answer at once
``/status/{code}``           that status (a 5xx burst is ``/status/503``)
``/reset``                   headers of a 1000-byte body, then the connection is reset
``/hang``                    never answers (the client's timeout must fire)
``/trickle/{chunks}/{ms}``   a body of ``chunks`` bytes, one byte every ``ms`` milliseconds
``/echo``, ``/echo/...``     (any method) JSON of what came: method, path, query, body, Authorization and Cookie headers
``POST /login[?to=URL]``     sets a session cookie ``sid`` (a new one each time; ``state.sessions``); with
                             ``to``, a 302 there
``/whoami``                  200 with the session's id when the ``sid`` cookie is a known session, else 401
``/redirect/{code}?to=URL``  status ``code`` with ``Location: URL`` (relative or absolute, as given)
``/redirect-loop``           302 to itself, for ever
``/big-header/{bytes}``      200 with a header ``X-Big`` of ``bytes`` bytes
``/_stats``                  {"total": N, "counts": {path: N}}
``POST /_control/stall?seconds=S``   turn the stall switch on for S seconds (0: off)

WebSocket routes (``state.ws_connects`` counts upgrades per path):

``/ws/echo``                 echoes text frames, answers pings
``/ws/silent``               never answers pings (and never reads, so no pong is sent)
``/ws/close/{code}?reason=R`` sends "bye" and closes with ``code`` (e.g. 1011 internal error) and reason R
``/ws/drop/{ms}``            sends "hi", then drops the connection every ``ms`` milliseconds
``/ws/big/{bytes}``          sends one message of ``bytes`` bytes, then waits for the client to close
``/ws/burst/{n}``            sends "m1" ... "m{n}" at once, then "frag-ment" in two frames (a fragmented
                             message), then echoes; ``state.ws_sent`` counts the messages sent per path
``/ws/not-utf8``             sends a text frame that is not UTF-8, then waits for the client to close

``start_garbage_server()`` is a raw asyncio server answering every connection with non-HTTP bytes;
``start_reason_server()`` answers ``GET /{code}?text=T`` with status ``code`` and the reason phrase T,
control characters and all (aiohttp refuses to send those), the body echoing T.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web


@dataclass
class ServerState:
    counts: Counter = field(default_factory=Counter)
    ws_connects: Counter = field(default_factory=Counter)
    ws_sent: Counter = field(default_factory=Counter)
    """Messages sent per path (``/ws/burst/{n}``)."""
    stall_until: float = 0.0
    """``time.monotonic()`` until which ``/stall`` requests wait."""
    hanging: set = field(default_factory=set)
    sessions: set = field(default_factory=set)
    """Session ids handed out by ``/login``."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def stall(self, seconds: float) -> None:
        self.stall_until = time.monotonic() + seconds if seconds > 0 else 0.0


STATE = web.AppKey("state", ServerState)


@web.middleware
async def _count(request: web.Request, handler):  # type: ignore[no-untyped-def]
    path = request.path
    if not path.startswith(("/_stats", "/_control", "/ws/")):
        request.app[STATE].counts[path] += 1
    return await handler(request)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def delay(request: web.Request) -> web.Response:
    await asyncio.sleep(int(request.match_info["ms"]) / 1000)
    return web.Response(text="ok")


async def stall(request: web.Request) -> web.Response:
    state = request.app[STATE]
    for _ in range(10_000):  # bounded: the switch can be moved while a request waits
        left = state.stall_until - time.monotonic()
        if left <= 0:
            break
        await asyncio.sleep(min(left, 0.05))
    return web.Response(text="ok")


async def stall_once(request: web.Request) -> web.Response:
    n, ms = int(request.match_info["n"]), int(request.match_info["ms"])
    if request.app[STATE].counts[request.path] == n:
        await asyncio.sleep(ms / 1000)
    return web.Response(text="ok")


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code}")


async def reset(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "1000"})
    await resp.prepare(request)
    await resp.write(b"x" * 10)
    assert request.transport is not None
    request.transport.abort()  # RST instead of the remaining 990 bytes
    return resp


async def hang(request: web.Request) -> web.Response:
    event = asyncio.Event()
    request.app[STATE].hanging.add(event)
    try:
        await event.wait()  # set only on shutdown
    finally:
        request.app[STATE].hanging.discard(event)
    return web.Response(text="late")


async def trickle(request: web.Request) -> web.StreamResponse:
    chunks, ms = int(request.match_info["chunks"]), int(request.match_info["ms"])
    resp = web.StreamResponse(headers={"Content-Length": str(chunks)})
    await resp.prepare(request)
    try:
        for _ in range(chunks):
            await asyncio.sleep(ms / 1000)
            await resp.write(b"x")
        await resp.write_eof()
    except ConnectionResetError:  # the client gave up (its timeout): fine
        pass
    return resp


async def echo(request: web.Request) -> web.Response:
    return web.json_response({
        "method": request.method, "path": request.path, "query": dict(request.query),
        "body": (await request.read()).decode("utf-8", "replace"),
        "authorization": request.headers.get("Authorization"), "cookie": request.headers.get("Cookie"),
    })


async def login(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sid = f"s{len(state.sessions) + 1}"
    state.sessions.add(sid)
    to = request.query.get("to")
    resp = web.json_response({"sid": sid}) if to is None else web.Response(status=302, headers={"Location": to})
    resp.set_cookie("sid", sid, path="/", httponly=True)
    return resp


async def whoami(request: web.Request) -> web.Response:
    sid = request.cookies.get("sid")
    if sid in request.app[STATE].sessions:
        return web.json_response({"sid": sid})
    return web.Response(status=401, text="who are you?")


async def redirect(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), headers={"Location": request.query["to"]})


async def redirect_loop(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/redirect-loop"})


async def big_header(request: web.Request) -> web.Response:
    return web.Response(text="ok", headers={"X-Big": "b" * int(request.match_info["bytes"])})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"total": state.total, "counts": dict(state.counts)})


async def control_stall(request: web.Request) -> web.Response:
    request.app[STATE].stall(float(request.query.get("seconds", "0")))
    return web.json_response({"stall_until": request.app[STATE].stall_until})


async def _ws(request: web.Request, **kwargs) -> web.WebSocketResponse:  # type: ignore[no-untyped-def]
    ws = web.WebSocketResponse(**kwargs)
    await ws.prepare(request)
    request.app[STATE].ws_connects[request.path] += 1
    return ws


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = await _ws(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
    return ws


async def ws_silent(request: web.Request) -> web.WebSocketResponse:
    ws = await _ws(request, autoping=False)
    await ws.send_str("hello")
    async for msg in ws:  # pings arrive as messages and are ignored: no pong ever goes back
        if msg.type is WSMsgType.CLOSE:
            break
    return ws


async def ws_close(request: web.Request) -> web.WebSocketResponse:
    ws = await _ws(request)
    await ws.send_str("bye")
    reason = request.query.get("reason", "test server error")
    await ws.close(code=int(request.match_info["code"]), message=reason.encode())
    return ws


async def ws_drop(request: web.Request) -> web.WebSocketResponse:
    ws = await _ws(request)
    await ws.send_str("hi")
    try:
        await asyncio.wait_for(ws.receive(), int(request.match_info["ms"]) / 1000)
    except asyncio.TimeoutError:
        pass
    if request.transport is not None:
        request.transport.abort()  # no close frame: a dropped link
    return ws


async def ws_big(request: web.Request) -> web.WebSocketResponse:
    ws = await _ws(request)
    await ws.send_str("x" * int(request.match_info["bytes"]))
    async for _ in ws:  # until the client closes
        pass
    return ws


def _raw_frames(request: web.Request, *frames: tuple[bool, int, bytes]) -> None:
    """Write server frames (FIN, opcode, payload under 126 bytes) as they are: what aiohttp will not send
    (fragments, a text frame that is not UTF-8)."""
    transport = request.transport
    assert transport is not None
    for fin, opcode, payload in frames:
        transport.write(bytes((0x80 * fin | opcode, len(payload))) + payload)


async def ws_burst(request: web.Request) -> web.WebSocketResponse:
    ws = await _ws(request)
    n = int(request.match_info["n"])
    for i in range(1, n + 1):
        await ws.send_str(f"m{i}")
    _raw_frames(request, (False, 0x1, b"frag-"), (True, 0x0, b"ment"))
    request.app[STATE].ws_sent[request.path] += n + 1
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
            request.app[STATE].ws_sent[request.path] += 1
    return ws


async def ws_not_utf8(request: web.Request) -> web.WebSocketResponse:
    ws = await _ws(request)
    _raw_frames(request, (True, 0x1, b"caf\xe9"))  # Latin-1, not UTF-8
    async for _ in ws:  # until the client closes
        pass
    return ws


def make_app() -> web.Application:
    app = web.Application(middlewares=[_count])
    app[STATE] = ServerState()
    r = app.router
    r.add_get("/ok", ok)
    r.add_get("/delay/{ms}", delay)
    r.add_get("/stall", stall)
    r.add_get("/stall-once/{n}/{ms}", stall_once)
    r.add_route("*", "/status/{code}", status)
    r.add_get("/reset", reset)
    r.add_get("/hang", hang)
    r.add_get("/trickle/{chunks}/{ms}", trickle)
    r.add_route("*", "/echo", echo)
    r.add_route("*", "/echo/{tail:.*}", echo)
    r.add_post("/login", login)
    r.add_get("/whoami", whoami)
    r.add_route("*", "/redirect/{code}", redirect)
    r.add_get("/redirect-loop", redirect_loop)
    r.add_get("/big-header/{bytes}", big_header)
    r.add_get("/_stats", stats)
    r.add_post("/_control/stall", control_stall)
    r.add_get("/ws/echo", ws_echo)
    r.add_get("/ws/silent", ws_silent)
    r.add_get("/ws/close/{code}", ws_close)
    r.add_get("/ws/drop/{ms}", ws_drop)
    r.add_get("/ws/big/{bytes}", ws_big)
    r.add_get("/ws/burst/{n}", ws_burst)
    r.add_get("/ws/not-utf8", ws_not_utf8)

    async def wake_hanging(app: web.Application) -> None:
        for event in list(app[STATE].hanging):
            event.set()

    app.on_shutdown.append(wake_hanging)
    return app


class TestServer:
    """A running test server on 127.0.0.1 (free port); ``state`` is shared with the handlers."""

    __test__ = False  # not a pytest test class

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.state: ServerState = runner.app[STATE]

    async def close(self) -> None:
        await self._runner.cleanup()


async def start_test_server() -> TestServer:
    runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return TestServer(runner, runner.addresses[0][1])


GARBAGE = b"SPAM/9.9 what is this\r\n\x00\xff\xfe not http at all\r\n\r\n"


class RawServer:
    """A server that speaks raw bytes on 127.0.0.1 (asyncio streams): ``_serve`` answers a connection;
    a client that goes away or stalls for 5 s ends it, and the connection is always closed."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
            return  # the client is gone or silent: what it sent is already counted
        finally:
            writer.close()

    async def start(self) -> "RawServer":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class GarbageServer(RawServer):
    """Reads a request, answers with bytes that are not HTTP, closes; ``connections`` counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        writer.write(GARBAGE)
        await writer.drain()


async def start_garbage_server() -> GarbageServer:
    garbage = GarbageServer()
    await garbage.start()
    return garbage


class ReasonServer(RawServer):
    """Answers ``/{code}?text=T`` with ``HTTP/1.1 {code} T``, T percent-decoded and sent raw."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from urllib.parse import parse_qs, urlsplit

        while True:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            self.requests += 1
            target = urlsplit(head.split(b" ", 2)[1].decode("latin-1"))
            text = parse_qs(target.query).get("text", [""])[0].encode("utf-8")
            writer.write(b"HTTP/1.1 " + target.path.strip("/").encode() + b" " + text
                         + b"\r\nContent-Length: %d\r\n\r\n" % len(text) + text)
            await writer.drain()


async def start_reason_server() -> ReasonServer:
    reason = ReasonServer()
    await reason.start()
    return reason
