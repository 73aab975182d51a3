"""Tests for the built-in demo target (real sockets on 127.0.0.1, aiohttp client)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import sys

import aiohttp
import pytest

from liminal_tui.demo import DemoProcess, start_demo_server
from liminal_tui.demo import hub as demo_hub
from liminal_tui.demo import store as demo_store

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def server():
    srv = await start_demo_server(heartbeat_interval=0.1)
    yield srv
    await srv.close()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def _json(resp: aiohttp.ClientResponse):
    assert resp.content_type == "application/json"
    return await resp.json()


async def _receive(ws: aiohttp.ClientWebSocketResponse, type_: str, timeout: float = 3.0) -> dict:
    """Next JSON message of ``type_`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            if data["type"] == type_:
                return data


async def test_crud_round_trip(server, http):
    base = f"{server.url}/api/memories"
    async with http.post(base, json={"content": "hello", "tags": ["a", "b"]}) as r:
        assert r.status == 201
        created = await _json(r)
    assert created["content"] == "hello" and created["tags"] == ["a", "b"]
    assert created["version"] == 1 and len(created["id"]) == 32
    assert created["created_at"] == created["updated_at"]
    mid = created["id"]

    async with http.get(f"{base}/{mid}") as r:
        assert r.status == 200
        assert await _json(r) == created

    async with http.patch(f"{base}/{mid}", json={"content": "bye"}) as r:
        assert r.status == 200
        updated = await _json(r)
    assert updated["content"] == "bye" and updated["tags"] == ["a", "b"]
    assert updated["version"] == 2 and updated["updated_at"] >= created["updated_at"]

    async with http.patch(f"{base}/{mid}", json={"tags": []}) as r:
        assert (await _json(r))["version"] == 3

    async with http.get(f"{server.url}/health") as r:
        assert await _json(r) == {"status": "ok", "memories": 1, "ws_clients": 0}

    async with http.delete(f"{base}/{mid}") as r:
        assert r.status == 204
    async with http.get(f"{base}/{mid}") as r:
        assert r.status == 404
        assert await _json(r) == {"error": "not found"}


async def test_not_found(server, http):
    base = f"{server.url}/api/memories"
    for method in ("GET", "DELETE"):
        async with http.request(method, f"{base}/nope") as r:
            assert r.status == 404 and await _json(r) == {"error": "not found"}
    async with http.patch(f"{base}/nope", json={"content": "x"}) as r:
        assert r.status == 404 and await _json(r) == {"error": "not found"}
    async with http.get(f"{server.url}/no/such/route") as r:
        assert r.status == 404 and "error" in await _json(r)


@pytest.mark.parametrize("body", [
    b"{not json", b"", b"[1, 2]", b'{"tags": ["x"]}', b'{"content": 5}', b'{"content": ""}',
    b'{"content": "ok", "tags": "x"}', b'{"content": "ok", "tags": [1]}',
])
async def test_create_bad_input(server, http, body):
    async with http.post(f"{server.url}/api/memories", data=body,
                         headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert isinstance((await _json(r))["error"], str)


async def test_patch_bad_input_and_bad_paging(server, http):
    async with http.post(f"{server.url}/api/memories", json={"content": "x"}) as r:
        mid = (await r.json())["id"]
    for body in (b"nope", b'{"content": 3}', b'{"tags": "x"}'):
        async with http.patch(f"{server.url}/api/memories/{mid}", data=body) as r:
            assert r.status == 400 and "error" in await _json(r)
    async with http.get(f"{server.url}/api/memories", params={"page": "x"}) as r:
        assert r.status == 400 and "error" in await _json(r)
    async with http.get(f"{server.url}/api/memories/{mid}") as r:
        assert (await r.json())["version"] == 1  # failed patches changed nothing


async def test_paging_newest_first(server, http):
    ids = []
    for i in range(25):
        async with http.post(f"{server.url}/api/memories", json={"content": f"m{i}"}) as r:
            ids.append((await r.json())["id"])
    newest_first = ids[::-1]

    async with http.get(f"{server.url}/api/memories") as r:
        page = await _json(r)
    assert (page["page"], page["per_page"], page["total"]) == (1, 20, 25)
    assert [m["id"] for m in page["items"]] == newest_first[:20]

    async with http.get(f"{server.url}/api/memories", params={"page": 3, "per_page": 10}) as r:
        page = await r.json()
    assert [m["id"] for m in page["items"]] == newest_first[20:]

    async with http.get(f"{server.url}/api/memories", params={"page": 9}) as r:
        assert (await r.json())["items"] == []
    async with http.get(f"{server.url}/api/memories", params={"per_page": 1000}) as r:
        page = await r.json()
    assert page["per_page"] == 100 and len(page["items"]) == 25


def test_store_evicts_oldest():
    store = demo_store.MemoryStore(max_items=3)
    ids = [store.create(f"m{i}", [])["id"] for i in range(5)]
    assert len(store) == 3
    assert store.get(ids[0]) is None and store.get(ids[1]) is None
    assert [m["id"] for m in store.page(1, 10)] == ids[:1:-1]


async def test_websocket_hello_heartbeat_ping_echo(server, http):
    async with http.ws_connect(f"{server.url}/ws") as ws:
        assert await _receive(ws, "hello") == {"type": "hello", "clients": 1}
        beat = await _receive(ws, "heartbeat")
        assert isinstance(beat["ts"], float)
        await ws.send_json({"type": "ping", "id": 42})
        assert await _receive(ws, "pong") == {"type": "pong", "id": 42}
        await ws.send_str('{"a": 1}')
        assert (await _receive(ws, "echo"))["data"] == {"a": 1}
        await ws.send_str("plain text")
        assert (await _receive(ws, "echo"))["data"] == "plain text"
        await ws.ping()  # protocol-level ping is answered (autoping); connection stays up
        await ws.send_json({"type": "ping", "id": "after"})
        assert (await _receive(ws, "pong"))["id"] == "after"


async def test_broadcast_reaches_every_client(server, http):
    async with http.post(f"{server.url}/api/memories", json={"content": "x"}) as r:
        mid = (await r.json())["id"]
    async with http.ws_connect(f"{server.url}/ws") as ws1, \
            http.ws_connect(f"{server.url}/ws") as ws2:
        await _receive(ws1, "hello")
        assert (await _receive(ws2, "hello"))["clients"] == 2
        async with http.patch(f"{server.url}/api/memories/{mid}", json={"content": "y"}) as r:
            assert r.status == 200
        for ws in (ws1, ws2):
            event = await _receive(ws, "memory.updated")
            assert (event["id"], event["version"]) == (mid, 2)
            assert isinstance(event["ts"], float)
        async with http.delete(f"{server.url}/api/memories/{mid}") as r:
            assert r.status == 204
        for ws in (ws1, ws2):
            assert (await _receive(ws, "memory.deleted"))["id"] == mid


async def _raw_ws_that_never_reads(server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-rolled WebSocket client with a tiny receive buffer that does not read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    await writer.drain()
    assert b" 101 " in await reader.readline()
    return reader, writer


def _masked_text_frame(payload: bytes) -> bytes:
    assert 126 <= len(payload) < 1 << 16
    return bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(payload)) + b"\0\0\0\0" + payload


async def test_stalled_client_does_not_block_others(server, http, monkeypatch):
    """A client that stops reading cannot stall HTTP or other clients, and gets dropped."""
    monkeypatch.setattr(demo_hub, "SEND_TIMEOUT", 0.3)
    stalled_reader, stalled_writer = await _raw_ws_that_never_reads(server)
    async with http.ws_connect(f"{server.url}/ws") as live:
        assert (await _receive(live, "hello"))["clients"] == 2
        # ~12 MB of echoes owed to a client that never reads: its sends stall.
        frame = _masked_text_frame(b"x" * 60_000)
        for _ in range(200):
            stalled_writer.write(frame)
            await stalled_writer.drain()

        async with asyncio.timeout(3):
            for _ in range(20):
                async with http.post(f"{server.url}/api/memories", json={"content": "c"}) as r:
                    assert r.status == 201
                    mid = (await r.json())["id"]
                assert (await _receive(live, "memory.created"))["id"] == mid

        # The server drops the stalled client (nothing to await client-side: poll).
        async with asyncio.timeout(5):
            while True:
                async with http.get(f"{server.url}/health") as r:
                    if (await r.json())["ws_clients"] == 1:
                        break
                await asyncio.sleep(0.02)
            try:  # ... and its connection ends
                while await stalled_reader.read(1 << 16):
                    pass
            except ConnectionResetError:
                pass
        stalled_writer.close()
        await live.send_json({"type": "ping", "id": "still-alive"})
        assert (await _receive(live, "pong"))["id"] == "still-alive"


async def test_stats_count_requests(server, http):
    async with http.post(f"{server.url}/api/memories", json={"content": "x"}) as r:
        mid = (await r.json())["id"]
    for _ in range(3):
        async with http.get(f"{server.url}/api/memories/{mid}"):
            pass
    async with http.get(f"{server.url}/api/memories"):
        pass
    async with http.post(f"{server.url}/api/memories", data=b"bad"):
        pass
    async with http.get(f"{server.url}/health"):
        pass
    async with http.ws_connect(f"{server.url}/ws") as ws:
        await _receive(ws, "hello")
        await ws.send_json({"type": "ping", "id": 1})
        await _receive(ws, "pong")
    async with http.delete(f"{server.url}/api/memories/{mid}"):
        pass
    async with http.get(f"{server.url}/_stats") as r:
        stats = await _json(r)
    async with http.get(f"{server.url}/_stats") as r:
        assert (await r.json())["requests_total"] == stats["requests_total"]  # not counted
    assert stats["by_route"] == {
        "POST /api/memories": 2, "GET /api/memories/{id}": 3, "GET /api/memories": 1,
        "GET /health": 1, "GET /ws": 1, "DELETE /api/memories/{id}": 1,
    }
    assert stats["requests_total"] == 9
    assert stats["ws_connects"] == 1 and stats["ws_messages_in"] == 1
    assert stats["ws_messages_out"] >= 2  # hello + pong (+ heartbeats)


async def test_close_with_connected_client_is_prompt():
    srv = await start_demo_server(heartbeat_interval=0)
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{srv.url}/ws") as ws:
        await _receive(ws, "hello")
        async with asyncio.timeout(3):
            await srv.close()
        msg = await ws.receive(timeout=3)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


@pytest.mark.slow
def test_demo_process_starts_serves_and_stops():
    with DemoProcess(heartbeat_interval=0.5) as demo:
        assert demo.url.startswith("http://127.0.0.1:") and demo.port > 0
        pid = demo.pid

        async def check() -> dict:
            async with aiohttp.ClientSession() as http, http.get(f"{demo.url}/health") as r:
                assert r.status == 200
                return await r.json()

        assert asyncio.run(check())["status"] == "ok"
    assert demo.returncode is not None
    if sys.platform != "win32":
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
async def test_demo_process_async_context():
    async with DemoProcess() as demo:
        async with aiohttp.ClientSession() as http, http.get(f"{demo.url}/health") as r:
            assert (await r.json())["status"] == "ok"
    assert demo.returncode is not None


@pytest.mark.slow
async def test_demo_process_freezes_its_clients_out_of_the_collector():
    """In its own process the demo freezes its connected clients' objects (``/_stats`` ``gc_frozen``), so
    that full collections do not walk them."""
    async with DemoProcess(heartbeat_interval=0) as demo:
        async with aiohttp.ClientSession(trust_env=False) as http:
            sockets = [await http.ws_connect(f"{demo.url}/ws") for _ in range(20)]
            async with asyncio.timeout(10):  # the freeze comes within a tick or two (1 s each)
                while (frozen := (await (await http.get(f"{demo.url}/_stats")).json())["gc_frozen"]) == 0:
                    await asyncio.sleep(0.1)
            for ws in sockets:
                await ws.close()
    assert frozen > 0


@pytest.mark.slow
def test_demo_process_exits_when_its_parent_is_killed(tmp_path):
    """A run's process killed outright (SIGKILL, a dropped terminal) must not leave the demo target behind."""
    import signal
    import subprocess
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from liminal_tui.demo import DemoProcess\n"
        "demo = DemoProcess().start()\n"
        "print(demo.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    demo_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the demo notices within about 0.5 s
        try:
            os.kill(demo_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(demo_pid, signal.SIGKILL)
    raise AssertionError("the demo target outlived its parent")
