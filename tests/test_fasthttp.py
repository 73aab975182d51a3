"""FastHttpClient (liminal_tui/engine/clients/fasthttp.py) against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from liminal_tui.engine.clients.fasthttp import FastHttpClient
from liminal_tui.engine.clients.h1request import Targets
from liminal_tui.engine.clients import make_client
from liminal_tui.engine.clients.http import AiohttpClient, HttpError
from liminal_tui.profile.models import HttpSettings

pytestmark = pytest.mark.timeout(30)


def _client(**timeouts) -> FastHttpClient:  # type: ignore[no-untyped-def]
    return FastHttpClient(HttpSettings(timeouts={"connect": 0.5, "total": 2.0, **timeouts}))


async def _get(client, url, **kw):  # type: ignore[no-untyped-def]
    return await client.request(kw.pop("method", "GET"), url, kw.get("headers"), kw.get("params"),
                                kw.get("data"), kw.get("json"))


async def _error(client, url, **kw) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(HttpError) as info:
        await _get(client, url, **kw)
    return info.value.name


# ---------------------------------------------------------------- a raw server with canned answers

CANNED = {
    b"/cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing: A\r\n\r\nhello",
    b"/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"/eof": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    b"/close": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    b"/head": b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
    b"/nocontent": b"HTTP/1.1 204 No Content\r\n\r\n",
    b"/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"/idle-close": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"/drop-next": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"/gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(gzip.compress(b'{"zipped": true}')), gzip.compress(b'{"zipped": true}')),
    b"/badgzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
}


class RawServer:
    """Answers each request (read to its blank line; no bodies expected) from CANNED by path."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for n in range(100):
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                self.requests.append(head)
                path = head.split(b" ", 2)[1].split(b"?")[0]
                if path == b"/drop-next" and n > 0:
                    break  # a keep-alive connection the server dropped just as the request came
                writer.write(CANNED[path])
                await writer.drain()
                if path in (b"/eof", b"/close"):
                    break
                if path == b"/idle-close":
                    await asyncio.sleep(0.05)
                    break  # closes the keep-alive connection while the client holds it idle
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw_server():
    raw = RawServer()
    raw.server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.url = f"http://127.0.0.1:{raw.server.sockets[0].getsockname()[1]}"
    yield raw
    raw.server.close()
    await raw.server.wait_closed()


# ---------------------------------------------------------------- round trips

async def test_json_round_trip_with_the_demo_server(demo_server):
    client = _client()
    try:
        status, reason, body, headers = await _get(
            client, f"{demo_server.url}/api/memories", method="POST", json={"content": "hi", "tags": ["a"]})
        assert (status, reason) == (201, "Created")
        assert headers.get("content-type").startswith("application/json")
        assert headers.get("Content-Type") == headers["CONTENT-TYPE"]
        import json
        memory = json.loads(body)
        assert memory["content"] == "hi"
        status, _, body, _ = await _get(client, f"{demo_server.url}/api/memories/{memory['id']}")
        assert status == 200 and json.loads(body)["id"] == memory["id"]
        status, _, body, _ = await _get(client, f"{demo_server.url}/api/memories", params={"per_page": "1", "page": "1"})
        page = json.loads(body)
        assert status == 200 and page["per_page"] == 1 and len(page["items"]) == 1
        status, _, body, _ = await _get(client, f"{demo_server.url}/api/memories/{memory['id']}", method="DELETE")
        assert status == 204 and body == b""
        status, _, _, _ = await _get(client, f"{demo_server.url}/api/memories/{memory['id']}")
        assert status == 404
        # all of it on one keep-alive connection
        assert client.open_connections() == 1
    finally:
        await client.close()


async def test_bodies_and_framing(raw_server):
    client = _client()
    try:
        status, _, body, headers = await _get(client, raw_server.url + "/cl")
        assert (status, body, headers.get("x-thing")) == (200, b"hello", "A")
        assert (await _get(client, raw_server.url + "/chunked"))[2] == b"hello world"
        assert (await _get(client, raw_server.url + "/head", method="HEAD"))[:3] == (200, "OK", b"")
        assert (await _get(client, raw_server.url + "/nocontent"))[:3] == (204, "No Content", b"")
        assert (await _get(client, raw_server.url + "/continue"))[:3] == (200, "OK", b"ok")
        assert raw_server.connections == 1  # all of the above kept the connection
        assert (await _get(client, raw_server.url + "/eof"))[2] == b"until the end"
        assert (await _get(client, raw_server.url + "/close"))[2] == b"ok"
        assert (await _get(client, raw_server.url + "/cl"))[2] == b"hello"
        assert raw_server.connections == 3  # /eof and /close were not reused
    finally:
        await client.close()


async def test_compressed_bodies_are_decoded(raw_server):
    client = _client()
    try:
        assert (await _get(client, raw_server.url + "/gzip", headers={"Accept-Encoding": "gzip"}))[2] == b'{"zipped": true}'
        assert await _error(client, raw_server.url + "/badgzip") == "bad response"
    finally:
        await client.close()


async def test_request_bytes(raw_server):
    client = _client()
    try:
        await _get(client, raw_server.url + "/cl", headers={"X-Token": "t", "User-Agent": "me"}, params={"a": "b c"})
        head = raw_server.requests[-1]
        assert head.startswith(b"GET /cl?a=b+c HTTP/1.1\r\n")
        assert b"\r\nX-Token: t\r\n" in head and b"\r\nUser-Agent: me\r\n" in head
        assert b"liminal-tui" not in head and b"Host: 127.0.0.1:" in head
    finally:
        await client.close()


async def test_keep_alive_reuse(test_server):
    client = _client()
    try:
        async def user() -> None:
            for _ in range(20):
                assert (await _get(client, test_server.url + "/ok"))[:3] == (200, "OK", b"ok")

        await asyncio.gather(*(user() for _ in range(5)))
        assert test_server.state.counts["/ok"] == 100
        assert client.open_connections() == 5
    finally:
        await client.close()


async def test_server_closing_idle_connections_does_not_fail_the_next_request(raw_server):
    client = _client()
    try:
        for _ in range(5):
            assert (await _get(client, raw_server.url + "/idle-close"))[2] == b"ok"
            await asyncio.sleep(0.1)  # the server closes the idle connection meanwhile
        assert raw_server.connections == 5
    finally:
        await client.close()


async def test_stale_connection_is_retried_once_when_idempotent(raw_server):
    """A reused connection closed without an answer: GET retries on a new connection, POST fails."""
    client = _client()
    try:
        for _ in range(4):
            assert (await _get(client, raw_server.url + "/drop-next"))[2] == b"ok"
        assert raw_server.connections == 4 and len(raw_server.requests) == 7
        assert await _error(client, raw_server.url + "/drop-next", method="POST") == "server disconnected"
    finally:
        await client.close()


async def test_begin_gives_the_response_future_and_retries_a_stale_connection_itself(raw_server):
    """The steps' path: ``begin`` writes on an idle connection and hands back the one future; a reused
    connection the server dropped is retried on a new one behind that future (GET), or fails (POST)."""
    client = _client()
    url = raw_server.url + "/drop-next"
    try:
        assert client.begin("GET", url, None, None, None, None) is None  # no idle connection yet
        assert (await _get(client, url))[2] == b"ok"
        for _ in range(3):
            fut = client.begin("GET", url, None, None, None, None)
            assert isinstance(fut, asyncio.Future)
            assert (await fut)[:3] == (200, "OK", b"ok")
        assert raw_server.connections == 4 and len(raw_server.requests) == 7
        assert client.open_connections() == 1  # each response put its connection back in the pool
        fut = client.begin("POST", url, None, None, None, None)
        with pytest.raises(HttpError) as info:
            await fut
        assert info.value.name == "server disconnected"
    finally:
        await client.close()


async def test_a_cancelled_wait_on_begin_closes_its_connection(test_server):
    client = _client()
    try:
        assert (await _get(client, test_server.url + "/ok"))[0] == 200
        fut = client.begin("GET", test_server.url + "/hang", None, None, None, None)
        assert fut is not None
        task = asyncio.ensure_future(asyncio.wait_for(fut, 10))
        while not test_server.state.counts["/hang"]:  # in flight (bounded by the test's timeout)
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        while client.open_connections():  # the sweep (every 50 ms here) aborts it
            await asyncio.sleep(0.01)
    finally:
        await client.close()


async def test_max_connections_caps_open_connections(test_server):
    client = FastHttpClient(HttpSettings(max_connections=2))
    try:
        await asyncio.gather(*(_get(client, test_server.url + "/delay/20") for _ in range(10)))
        assert client.open_connections() <= 2 and test_server.state.counts["/delay/20"] == 10
    finally:
        await client.close()


async def test_make_client_selection():
    assert isinstance(make_client(HttpSettings()), FastHttpClient)
    assert isinstance(make_client(HttpSettings(client="fast")), FastHttpClient)
    aio = make_client(HttpSettings(client="aiohttp"))
    assert isinstance(aio, AiohttpClient)
    await aio.close()


# ---------------------------------------------------------------- faults, as in tests/test_faults.py

async def test_connect_refused(closed_port):
    client = _client()
    assert await _error(client, f"http://127.0.0.1:{closed_port}/x") == "connect refused"
    await client.close()


async def test_reset_mid_body(test_server):
    client = _client()
    assert await _error(client, test_server.url + "/reset") in ("incomplete body", "connection reset")
    assert client.open_connections() == 0
    await client.close()


async def test_hang_times_out_and_the_connection_is_not_reused(test_server):
    client = _client(read=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await _error(client, test_server.url + "/hang") == "timeout"
    assert 0.2 <= loop.time() - started < 1.0
    assert client.open_connections() == 0
    assert (await _get(client, test_server.url + "/ok"))[0] == 200
    await client.close()


async def test_trickle_within_read_but_beyond_total_times_out(test_server):
    client = _client(read=0.3, total=0.5)
    assert (await _get(client, test_server.url + "/trickle/3/50"))[2] == b"xxx"
    assert await _error(client, test_server.url + "/trickle/20/50") == "timeout"
    await client.close()


async def test_time_limits_fire_from_the_sweep_at_most_a_tick_late(test_server):
    client = _client(total=0.4)
    assert client._tick == pytest.approx(0.02)  # a twentieth of the shortest limit, at most 50 ms
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(HttpError) as info:
        await _get(client, test_server.url + "/hang")
    assert info.value.message == "no complete response in time"
    assert 0.4 <= loop.time() - started < 0.4 + 0.02 + 0.3  # a tick late at most, plus a loaded machine's slack
    reader = _client(read=0.2)
    with pytest.raises(HttpError) as info:
        await _get(reader, test_server.url + "/trickle/5/400")  # a byte every 400 ms: over the read limit
    assert (info.value.name, info.value.message) == ("timeout", "no data for 0.2 s")
    for c in (client, reader):
        await c.close()
        assert c._sweeper is None  # no sweep left behind


async def test_garbage_is_a_bad_response(garbage_server):
    client = _client()
    for _ in range(3):
        assert await _error(client, garbage_server.url + "/x") == "bad response"
    assert garbage_server.connections == 3
    await client.close()


async def test_cancelled_request_closes_its_connection(test_server):
    client = _client()
    task = asyncio.ensure_future(_get(client, test_server.url + "/hang"))
    while not test_server.state.counts["/hang"]:  # the request is in flight (bounded by the test's timeout)
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert client.open_connections() == 0
    await client.close()


# ---------------------------------------------------------------- one header limit for both HTTP/1.1 clients

@pytest.mark.parametrize("client_name", ["fast", "aiohttp"])
async def test_a_header_over_64_kib_is_the_same_failure_in_both_clients(test_server, client_name):
    from liminal_tui.engine.clients.http import MAX_HEADER_BYTES

    client = make_client(HttpSettings(client="fast" if client_name == "fast" else "aiohttp",
                                      timeouts={"connect": 0.5, "total": 3.0}))
    try:
        status, _, _, headers = await _get(client, f"{test_server.url}/big-header/{MAX_HEADER_BYTES - 1000}")
        assert status == 200 and len(headers["X-Big"]) == MAX_HEADER_BYTES - 1000
        assert await _error(client, f"{test_server.url}/big-header/{MAX_HEADER_BYTES + 5000}") == "header too large"
        status, _, body, _ = await _get(client, f"{test_server.url}/ok")  # the client goes on
        assert (status, body) == (200, b"ok")
    finally:
        await client.close()


# ---------------------------------------------------------------- URL parsing: the known-origin shortcut

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ORIGINS = ["http://127.0.0.1:8080", "https://example.test", "http://[::1]:81", "http://h"]
_PATH_CHARS = "abcXYZ019/%?=&;:@!$'()*+,~-._[] #\"<>{}|\\^`é\u2603\t"


@settings(max_examples=300, deadline=None)
@given(origin=st.sampled_from(_ORIGINS), tail=st.text(alphabet=_PATH_CHARS, max_size=16))
def test_known_origin_shortcut_parses_as_urlsplit_and_quote_do(origin, tail):
    warm = Targets()
    for o in _ORIGINS:
        warm.parse(o + "/warm")  # every origin known: the shortcut is tried first
    url = origin + "/" + tail
    assert warm.parse(url) == Targets().parse(url)  # a fresh cache: urlsplit + quote
