"""The HTTP/2 client (``engine/clients/h2.py``) against a real HTTP/2 server over TLS on 127.0.0.1
(tests/h2_servers.py), certificates made by the test: counts equal the server's, streams share few
connections, the server's stream limit, resets and GOAWAYs are handled, timings are recorded.
"""

from __future__ import annotations

import json
import random

import pytest
from hpack import Decoder, Encoder, NeverIndexedHeaderTuple

from h2_servers import H2Server, start_h2_server
from liminal_tui.engine.clients import make_client
from liminal_tui.engine.clients.fasthttp import FastHttpClient, Headers
from liminal_tui.engine.clients.h2 import H2Client
from liminal_tui.engine.clients.h2hpack import RememberingDecoder, RememberingEncoder
from liminal_tui.engine.clients.http import HttpError, HttpxClient
from liminal_tui.profile.models import HttpSettings
from runs import make_profile, run_to_end
from tls_servers import Certs, make_certs, start_tls_server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
async def h2_server(certs: Certs):  # type: ignore[no-untyped-def]
    server = await start_h2_server(certs)
    yield server
    await server.close()


def _client(certs: Certs, **kw) -> H2Client:  # type: ignore[no-untyped-def]
    client = make_client(HttpSettings(http2=True, ca_bundle=str(certs.ca), timeouts={"connect": 2.0, "total": 5.0}, **kw))
    assert isinstance(client, H2Client)
    return client


async def _get(client, url: str):  # type: ignore[no-untyped-def]
    return await client.request("GET", url, None, None, None, None)


def _run_body(certs: Certs, users: int, steps: str, http: str = "") -> str:
    return f"""
[http]
http2 = true
ca_bundle = "{certs.ca}"
{http}
[load]
users = {users}
spawn_rate = 1000
[[scenarios]]
name = "s"
on_failure = "continue"
{steps}
"""


def _step(path: str) -> str:
    return f'[[scenarios.steps]]\ntype = "http"\npath = "{path}"\n'


async def test_a_run_multiplexes_its_users_over_one_connection(h2_server: H2Server, certs: Certs) -> None:
    body = _run_body(certs, 20, _step("/delay/5"))
    _, final = await run_to_end(make_profile(h2_server.url, body, duration="1s"))
    row = final.find("http", "GET /delay/5")
    assert row is not None and row.failures == 0 and row.count > 100
    assert h2_server.counts["/delay"] == row.count
    assert h2_server.connections == 1  # one worker, 20 users: one connection
    assert h2_server.peak_streams > 10  # and their requests were in flight on it together
    assert row.connect is not None and row.tls is not None and row.ttfb is not None
    assert row.connect.count == row.tls.count == 1  # only the request that opened the connection
    assert row.ttfb.count == row.count and 5.0 <= row.ttfb.min <= row.latency.min


async def test_the_servers_stream_limit_is_kept(certs: Certs) -> None:
    server = await start_h2_server(certs, max_streams=4)
    try:
        _, final = await run_to_end(make_profile(server.url, _run_body(certs, 12, _step("/delay/5")), duration="1s"))
        row = final.find("http", "GET /delay/5")
        assert row is not None and row.failures == 0 and server.counts["/delay"] == row.count > 50
        assert server.peak_streams <= 4 and server.connections == 3  # 12 users, 4 streams a connection
        capped = await start_h2_server(certs, max_streams=4)
        try:
            body = _run_body(certs, 12, _step("/delay/5"), "max_connections = 1")
            _, final = await run_to_end(make_profile(capped.url, body, duration="1s"))
            row = final.find("http", "GET /delay/5")
            assert row is not None and row.failures == 0 and capped.counts["/delay"] == row.count > 50
            assert capped.connections == 1 and capped.peak_streams == 4  # the others waited for a stream
        finally:
            await capped.close()
    finally:
        await server.close()


async def test_resets_and_goaways_are_named_failures_and_the_run_goes_on(h2_server: H2Server, certs: Certs) -> None:
    body = _run_body(certs, 3, _step("/ok") + _step("/reset") + _step("/goaway") + _step("/drain"))
    _, final = await run_to_end(make_profile(h2_server.url, body, duration="1s"))
    ok, reset, goaway, drain = (final.find("http", f"GET {p}") for p in ("/ok", "/reset", "/goaway", "/drain"))
    assert ok.count > 5 and h2_server.counts["/ok"] == ok.count  # each answer once: no retry of a processed one
    assert 0 < drain.count == h2_server.counts["/drain"]  # answered under its own GOAWAY
    resets = sum(e.count for e in final.errors if e.name == "GET /reset" and e.error == "stream reset")
    assert reset.count == 0 and resets == h2_server.counts["/reset"] > 0  # the rest: refused by a GOAWAY
    assert goaway.count == 0 and goaway.failures > 0
    # not processed: tried once more, then named (a stream above another's GOAWAY is not even counted)
    assert 0 < h2_server.counts["/goaway"] <= 2 * goaway.failures
    errors = {(e.error, e.message) for e in final.errors}
    assert ("stream reset", "the server reset the stream: INTERNAL_ERROR") in errors
    assert ("goaway", "the server sent GOAWAY (ENHANCE_YOUR_CALM) before the stream was processed") in errors
    assert {e.error for e in final.errors} == {"stream reset", "goaway"}
    # another user's GOAWAY can refuse a request twice (it is tried once more): that is all else that fails
    assert {e.error for e in final.errors if e.name != "GET /reset"} <= {"goaway"}


async def test_a_graceful_goaway_lets_the_stream_finish_and_a_new_connection_follows(h2_server: H2Server, certs: Certs) -> None:
    client = _client(certs)
    status, _, body, _ = await _get(client, h2_server.url + "/drain")
    assert (status, body) == (200, b"ok")
    status, _, _, headers = await _get(client, h2_server.url + "/ok")
    assert status == 200 and headers.connect_ns > 0  # it opened the second connection
    assert h2_server.connections == 2
    await client.close()


async def test_a_connection_that_used_up_its_stream_ids_hands_over_to_a_new_one(h2_server: H2Server, certs: Certs) -> None:
    client = _client(certs)
    assert (await _get(client, h2_server.url + "/ok"))[0] == 200
    [conn] = client._all
    conn.h2.highest_outbound_stream_id = 2**31 - 1  # as after a billion requests
    status, _, _, headers = await _get(client, h2_server.url + "/ok")
    assert status == 200 and headers.connect_ns > 0 and h2_server.connections == 2
    await client.close()


async def test_connect_failures_are_named_as_in_the_http1_client(certs: Certs, unused_tcp_port: int) -> None:
    client = _client(certs)
    with pytest.raises(HttpError) as info:
        await _get(client, f"https://127.0.0.1:{unused_tcp_port}/ok")
    assert info.value.name == "connect refused" and client.open_connections() == 0
    await client.close()


async def test_verification_failure_is_named_as_in_the_http1_client(h2_server: H2Server, certs: Certs) -> None:
    tls_server = await start_tls_server(certs)
    try:
        settings = HttpSettings(http2=True, timeouts={"connect": 2.0, "total": 5.0})
        failures = []
        for client, url in ((make_client(settings), h2_server.url), (FastHttpClient(settings), tls_server.url)):
            with pytest.raises(HttpError) as info:
                await _get(client, url + "/ok")
            await client.close()
            failures.append((info.value.name, info.value.message))
        assert failures[0] == failures[1]
        assert failures[0][0] == "tls error" and failures[0][1].startswith("certificate verify failed: ")
        assert h2_server.counts["/ok"] == 0
    finally:
        await tls_server.close()


async def test_mutual_tls(certs: Certs) -> None:
    server = await start_h2_server(certs, client_ca=True)
    try:
        client = _client(certs, client_cert=str(certs.client_cert), client_key=str(certs.client_key))
        assert (await _get(client, server.url + "/ok"))[0] == 200
        await client.close()
        client = _client(certs)
        with pytest.raises(HttpError) as info:
            await _get(client, server.url + "/ok")
        await client.close()
        # asyncio's server sends no TLS alert (TLS 1.3 checks the client's certificate after the handshake):
        # the client may only see the close, as the fast client does against it
        assert info.value.name in ("tls error", "server disconnected")
        assert server.counts["/ok"] == 1
    finally:
        await server.close()


async def test_flow_control_both_ways_cookies_redirects_and_json(h2_server: H2Server, certs: Certs) -> None:
    client = _client(certs)
    big = {"data": "y" * 300_000}  # more than the server's 64 KiB stream window: sent as it opens
    status, _, body, headers = await client.request("POST", h2_server.url + "/echo", None, None, None, big)
    assert status == 200 and json.loads(body) == big and headers["Content-Type"] == "application/json"
    status, _, body, _ = await _get(client, h2_server.url + "/big/1000000")
    assert status == 200 and len(body) == 1_000_000
    status, _, _, headers = await _get(client, h2_server.url + "/set-cookie")
    assert headers.set_cookie == ["session=h2; Path=/"]
    status, reason, _, headers = await _get(client, h2_server.url + "/redirect")
    assert (status, reason, headers.get("location")) == (302, "Found", "/ok")
    assert h2_server.connections == 1 and isinstance(headers, Headers)
    await client.close()
    login = _step("/set-cookie") + _step("/whoami").replace('type = "http"', 'type = "http"\ncheck = { body_contains = "session=h2" }') + _step("/redirect")
    _, final = await run_to_end(make_profile(h2_server.url, _run_body(certs, 2, login), duration="1s"))
    whoami, redirect = final.find("http", "GET /whoami"), final.find("http", "GET /redirect")
    assert whoami.count > 3 and whoami.failures == 0  # each user's cookie went back with its next request
    assert redirect.failures == 0 and redirect.redirects == redirect.count > 3
    assert redirect.count <= h2_server.counts["/redirect"] <= redirect.count + 2  # a hop cut by the run's end


async def test_a_timeout_cancels_the_stream_and_the_connection_goes_on(h2_server: H2Server, certs: Certs) -> None:
    client = make_client(HttpSettings(http2=True, ca_bundle=str(certs.ca), timeouts={"connect": 2.0, "total": 0.3}))
    with pytest.raises(HttpError) as info:
        await _get(client, h2_server.url + "/never")
    assert info.value.name == "timeout"
    assert (await _get(client, h2_server.url + "/ok"))[0] == 200
    assert h2_server.connections == 1  # the stream was reset, not the connection
    await client.close()


async def test_servers_without_h2_and_plain_http_go_through_the_http1_client(certs: Certs, test_server) -> None:  # type: ignore[no-untyped-def]
    tls_server = await start_tls_server(certs)  # aiohttp: no ALPN h2
    try:
        client = _client(certs)
        for _ in range(3):
            assert (await _get(client, tls_server.url + "/ok"))[0] == 200
        assert (await _get(client, test_server.url + "/ok"))[0] == 200
        assert isinstance(client._fallback, FastHttpClient)
        assert tls_server.state.counts["/ok"] == 3 and tls_server.connections == 1  # and before, the ALPN probe
        await client.close()
    finally:
        await tls_server.close()


async def test_cleartext_http2_with_prior_knowledge(test_server) -> None:  # type: ignore[no-untyped-def]
    server = await start_h2_server(None)
    try:
        client = make_client(HttpSettings(http2=True, http2_cleartext=True, timeouts={"connect": 2.0, "total": 5.0}))
        status, _, body, headers = await _get(client, server.url + "/ok")
        assert (status, body) == (200, b"ok") and headers.connect_ns > 0 and headers.tls_ns == -1
        assert (await _get(client, server.url + "/ok"))[0] == 200
        assert server.counts["/ok"] == 2 and server.connections == 1
        with pytest.raises(HttpError) as info:  # an HTTP/1.1 server does not understand
            await _get(client, test_server.url + "/ok")
        assert info.value.name in ("bad response", "server disconnected")
        assert client._fallback is None
        await client.close()
    finally:
        await server.close()


async def test_httpx_stays_selectable(h2_server: H2Server, certs: Certs) -> None:
    client = make_client(HttpSettings(http2=True, client="httpx", ca_bundle=str(certs.ca)))
    assert isinstance(client, HttpxClient)
    assert (await _get(client, h2_server.url + "/ok"))[0] == 200
    assert h2_server.counts["/ok"] == 1
    await client.close()


def test_remembered_hpack_blocks_decode_as_hpack_does() -> None:
    rng = random.Random(7)
    for trial in range(30):
        ours, theirs = RememberingEncoder(), Decoder()
        plain, our_decoder = Encoder(), RememberingDecoder()
        if trial % 3 == 0:
            ours.header_table_size = theirs.header_table_size = plain.header_table_size = 200
        for i in range(200):
            path = rng.choice([b"/", b"/a", b"/items/%d" % rng.randint(0, 20)])
            headers = [(b":method", b"GET"), (b":path", path), (b"x-n", rng.choice([b"1", b"2", b"%d" % i]))]
            sent = [headers[0], NeverIndexedHeaderTuple(*headers[1]) if trial % 2 else headers[1], headers[2]]
            assert [tuple(h) for h in theirs.decode(ours.encode(sent), raw=True)] == headers
            assert [tuple(h) for h in our_decoder.decode(plain.encode(headers), raw=True)] == headers
            if i == 100 and trial % 2:  # a table size change mid-way
                ours.header_table_size = theirs.header_table_size = 100
    unindexed, decoder = Encoder(), RememberingDecoder()  # blocks without indexing (as nginx sends): remembered
    block = bytes([0x88]) + unindexed._encode_literal(b"server", b"nginx", b"\x00", True)
    assert [tuple(h) for h in decoder.decode(block, raw=True)] == [(b":status", b"200"), (b"server", b"nginx")]
    assert decoder.seen and [tuple(h) for h in decoder.decode(block, raw=True)] == [(b":status", b"200"), (b"server", b"nginx")]
