"""The built-in demo target: a small in-memory "memories" API with a WebSocket feed.

Routes: ``/health``, ``/api/memories[/{id}]`` (CRUD), ``/ws`` (``?group=NAME``: its broadcasts also timed
under that name) and ``/_stats``
(request counters, so load-engine tests can check their own numbers, and the server's own timing of
its broadcasts: ``broadcasts``, see :mod:`.fanout`). Every broadcast carries ``sent_ns``, its send time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from .hub import WsHub
from .store import MAX_PER_PAGE, ApiError, Memory, MemoryStore, Stats


class DemoState:
    """Everything one app instance owns."""

    def __init__(self, heartbeat_interval: float) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.store, self.stats = MemoryStore(), Stats()
        self.hub = WsHub(self.stats)


STATE = web.AppKey("demo_state", DemoState)


@web.middleware
async def _middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Count requests per (method, route) and render every error as JSON."""
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "<unmatched>"
    if route != "/_stats":
        request.app[STATE].stats.count(f"{request.method} {route}")
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return web.json_response({"error": (exc.reason or "error").lower()},
                                 status=exc.status, headers=headers)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


def _content(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "content must be a non-empty string")
    return value


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ApiError(400, "tags must be a list of strings")
    return value


def _int_param(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None


def _find(request: web.Request) -> Memory:
    memory = request.app[STATE].store.get(request.match_info["id"])
    if memory is None:
        raise ApiError(404, "not found")
    return memory


def _event(request: web.Request, kind: str, memory: Memory) -> None:
    request.app[STATE].hub.broadcast({"type": f"memory.{kind}", "id": memory["id"],
                                      "version": memory["version"], "ts": time.time()})


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"status": "ok", "memories": len(state.store),
                              "ws_clients": len(state.hub.clients)})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({**state.stats.snapshot(), "broadcasts": state.hub.fanout.snapshot(),
                              "gc_frozen": gc.get_freeze_count()})


async def create_memory(request: web.Request) -> web.Response:
    body = await _json_object(request)
    memory = request.app[STATE].store.create(_content(body.get("content")), _tags(body.get("tags")))
    _event(request, "created", memory)
    return web.json_response(memory, status=201)


async def list_memories(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    page = max(1, _int_param(request, "page", 1))
    per_page = min(max(1, _int_param(request, "per_page", 20)), MAX_PER_PAGE)
    return web.json_response({"items": store.page(page, per_page), "page": page,
                              "per_page": per_page, "total": len(store)})


async def get_memory(request: web.Request) -> web.Response:
    return web.json_response(_find(request))


async def update_memory(request: web.Request) -> web.Response:
    _find(request)  # 404 before 400
    body = await _json_object(request)
    content = _content(body["content"]) if "content" in body else None
    tags = _tags(body["tags"]) if body.get("tags") is not None else None
    memory = request.app[STATE].store.update(_find(request), content, tags)
    _event(request, "updated", memory)
    return web.json_response(memory)


async def delete_memory(request: web.Request) -> web.Response:
    memory = _find(request)
    request.app[STATE].store.delete(memory["id"])
    _event(request, "deleted", memory)
    return web.Response(status=204)


def _ws_reply(text: str) -> dict[str, Any]:
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = text
    if isinstance(data, dict) and data.get("type") == "ping":
        return {"type": "pong", "id": data.get("id")}
    return {"type": "echo", "data": data}


async def websocket(request: web.Request) -> web.WebSocketResponse:
    state = request.app[STATE]
    ws = web.WebSocketResponse(timeout=2.0, autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    client = state.hub.add(ws, request.transport, request.query.get("group"))
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                state.stats.ws_messages_in += 1
                is_text = msg.type is WSMsgType.TEXT
                state.hub.send(client, _ws_reply(msg.data) if is_text else msg.data)
    finally:
        await state.hub.remove(client)
    return ws


async def _heartbeats(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: broadcast a heartbeat every ``heartbeat_interval`` seconds."""
    state = app[STATE]

    async def beat() -> None:
        while True:
            await asyncio.sleep(state.heartbeat_interval)
            state.hub.broadcast({"type": "heartbeat", "ts": time.time()})

    task = asyncio.create_task(beat()) if state.heartbeat_interval > 0 else None
    yield
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _close_websockets(app: web.Application) -> None:
    await app[STATE].hub.close_all()


def make_app(heartbeat_interval: float = 5.0) -> web.Application:
    """Build the demo application (``heartbeat_interval <= 0`` disables heartbeats)."""
    app = web.Application(middlewares=[_middleware])
    app[STATE] = DemoState(heartbeat_interval)
    r = app.router
    r.add_get("/health", health)
    r.add_get("/_stats", stats)
    r.add_post("/api/memories", create_memory)
    r.add_get("/api/memories", list_memories)
    r.add_get("/api/memories/{id}", get_memory)
    r.add_patch("/api/memories/{id}", update_memory)
    r.add_delete("/api/memories/{id}", delete_memory)
    r.add_get("/ws", websocket)
    app.cleanup_ctx.append(_heartbeats)
    app.on_shutdown.append(_close_websockets)
    return app


class DemoServer:
    """A running demo server; ``await close()`` (or ``async with``) stops it."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner, self.host, self.port = runner, host, port
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}"

    @property
    def hub(self) -> WsHub:
        return self._runner.app[STATE].hub

    async def close(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> DemoServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_demo_server(host: str = "127.0.0.1", port: int = 0,
                            heartbeat_interval: float = 5.0) -> DemoServer:
    """Start the demo server on the running loop (``port=0`` picks a free port)."""
    runner = web.AppRunner(make_app(heartbeat_interval), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=1024).start()
    except BaseException:
        await runner.cleanup()
        raise
    return DemoServer(runner, host, runner.addresses[0][1])


def serve_forever(host: str = "127.0.0.1", port: int = 8000, heartbeat_interval: float = 5.0,
                  parent_pid: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or, with ``parent_pid``, until that process is gone: a demo target
    started for a run must not outlive a run whose process was killed); exits with a message if the
    port can't be bound."""
    import os
    import signal

    async def watch_parent(stop: asyncio.Event) -> None:
        while not stop.is_set():  # bounded by the parent's life
            if os.getppid() != parent_pid:
                stop.set()
                return
            await asyncio.sleep(0.5)

    async def keep_gc_off_clients(hub: WsHub, stop: asyncio.Event) -> None:
        """As a worker does (see engine/gcfreeze.py): the connected clients' objects are frozen out of the
        cyclic collector, whose full collections walked them all (measured: 120-190 ms a collection with
        2,000 clients, each a stall of every broadcast in flight)."""
        from ..engine.gcfreeze import GcFreezer

        freezer, started = GcFreezer(), time.monotonic()
        while not stop.is_set():  # bounded by the server's life
            await asyncio.sleep(1.0)
            clients = len(hub.clients)
            freezer.tick(time.monotonic() - started, clients, clients, clients)

    async def main() -> None:
        server = await start_demo_server(host, port, heartbeat_interval)
        print(f"demo target listening on {server.url}", file=sys.stderr, flush=True)
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        freezer = asyncio.ensure_future(keep_gc_off_clients(server.hub, stop))
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # Windows / not the main thread
                pass
        watcher = asyncio.ensure_future(watch_parent(stop)) if parent_pid else None
        try:
            await stop.wait()
        finally:
            if watcher is not None:
                watcher.cancel()
            freezer.cancel()
            await server.close()

    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise SystemExit(f"demo target: cannot listen on {host}:{port}: {exc}") from None
