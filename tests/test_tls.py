"""HTTPS in every client against real TLS servers on 127.0.0.1, certificates made by the test.

The fast client's https:// path (``engine/clients/fasthttp.py`` over ``engine/clients/tls.py``), aiohttp and httpx share one
context builder and one set of failure names; the profile's TLS files are checked before a run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from liminal_tui.engine.clients.fasthttp import FastHttpClient
from liminal_tui.engine.clients import make_client
from liminal_tui.engine.clients.http import AiohttpClient, HttpError, HttpxClient
from liminal_tui.engine.clients.tls import check_files
from liminal_tui.profile.models import HttpSettings
from runs import make_profile, run_to_end
from tls_servers import Certs, ThreadedTlsServer, make_certs, start_tls_server, start_wss_server

pytestmark = pytest.mark.timeout(60)

CLIENTS = [FastHttpClient, AiohttpClient]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
async def tls_server(certs: Certs):  # type: ignore[no-untyped-def]
    server = await start_tls_server(certs)
    yield server
    await server.close()


def _settings(**kw) -> HttpSettings:  # type: ignore[no-untyped-def]
    return HttpSettings(timeouts={"connect": 2.0, "total": 5.0}, **kw)


async def _get(client, url: str):  # type: ignore[no-untyped-def]
    return await client.request("GET", url, None, None, None, None)


async def _failure(client, url: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(HttpError) as info:
        await client.request("GET", url, None, None, None, None)
    await client.close()
    return info.value.name, info.value.message


async def _new_failure(cls, settings: HttpSettings, url: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return await _failure(cls(settings), url)  # made inside the loop (aiohttp's session needs one)


async def test_auto_uses_the_fast_client_for_https(tls_server, certs: Certs) -> None:  # type: ignore[no-untyped-def]
    client = make_client(_settings(ca_bundle=str(certs.ca)))
    assert isinstance(client, FastHttpClient)
    status, _, body, headers = await _get(client, tls_server.url + "/ok")
    assert status == 200 and body
    assert client._fallback is None  # no aiohttp behind it
    assert headers.connect_ns > 0 and headers.tls_ns > 0  # it opened the connection: both timed
    _, _, _, again = await _get(client, tls_server.url + "/ok")
    assert again.connect_ns == -1 and again.tls_ns == -1  # reused: nothing to time
    assert tls_server.connections == 1
    await client.close()


@pytest.mark.parametrize("cls", CLIENTS + [HttpxClient])
async def test_verification_is_on_by_default_and_fails_with_a_named_error(tls_server, cls) -> None:  # type: ignore[no-untyped-def]
    name, message = await _failure(cls(_settings()), tls_server.url + "/ok")
    assert name == "tls error"
    assert message.startswith("certificate verify failed: ")
    assert "local issuer" in message  # the system trust store does not know the test's CA
    assert tls_server.state.total == 0


@pytest.mark.parametrize("cls", CLIENTS + [HttpxClient])
async def test_custom_ca_bundle_verifies_and_verify_off_connects(tls_server, certs: Certs, cls) -> None:  # type: ignore[no-untyped-def]
    for settings in (_settings(ca_bundle=str(certs.ca)), _settings(verify_tls=False)):
        client = cls(settings)
        status, *_ = await _get(client, tls_server.url + "/ok")
        await client.close()
        assert status == 200
    assert tls_server.state.counts["/ok"] == 2


async def test_a_certificate_for_another_name_fails(certs: Certs, tls_server) -> None:  # type: ignore[no-untyped-def]
    # The certificate names 127.0.0.1 and localhost; ::1 resolves nowhere here, so use a Host mismatch via SNI:
    # "localhost" verifies (same certificate), an IP it does not name fails the hostname check.
    client = FastHttpClient(_settings(ca_bundle=str(certs.ca)))
    status, *_ = await _get(client, f"https://localhost:{tls_server.port}/ok")
    assert status == 200
    await client.close()
    ctx_client = FastHttpClient(_settings(ca_bundle=str(certs.server_cert)))  # not a CA: nothing verifies
    name, message = await _failure(ctx_client, tls_server.url + "/ok")
    assert (name, message.split(":")[0]) == ("tls error", "certificate verify failed")


@pytest.mark.parametrize("cls", CLIENTS + [HttpxClient])
async def test_mutual_tls_works_with_the_client_certificate(certs: Certs, cls) -> None:  # type: ignore[no-untyped-def]
    server = ThreadedTlsServer(certs)
    try:
        for kw in ({"client_cert": str(certs.client_cert), "client_key": str(certs.client_key)},
                   {"client_cert": str(certs.client_both)}):
            client = cls(_settings(ca_bundle=str(certs.ca), **kw))
            status, *_ = await _get(client, server.url + "/")
            await client.close()
            assert status == 200
        assert server.requests == 2
    finally:
        server.close()


def _loops() -> list:
    loops = [pytest.param(asyncio.new_event_loop, id="asyncio")]
    try:
        import uvloop
    except ImportError:  # Windows: liminal-tui installs uvloop only where it exists
        return loops
    return [*loops, pytest.param(uvloop.new_event_loop, id="uvloop")]


@pytest.mark.parametrize("loop_factory", _loops())
@pytest.mark.parametrize("cls", CLIENTS + [HttpxClient])
def test_a_missing_client_certificate_fails_with_the_same_name_in_every_client(certs: Certs, cls, loop_factory) -> None:  # type: ignore[no-untyped-def]
    """TLS 1.3 ends the client's handshake before the server checks its certificate: whether a client reads
    the server's alert or meets the closed socket first (``Broken pipe``, a reset) is a race, different in
    each client and loop; every one of them names it the same."""
    server = ThreadedTlsServer(certs)
    try:
        for _ in range(3):
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                failure = runner.run(_new_failure(cls, _settings(ca_bundle=str(certs.ca)), server.url + "/"))
            assert failure == ("tls error", "certificate required by the server (set http.client_cert)")
        assert server.requests == 0
    finally:
        server.close()


@pytest.mark.parametrize("cls", CLIENTS + [HttpxClient])
async def test_handshake_timeout_is_named_the_same_in_every_client(unused_tcp_port: int, cls) -> None:  # type: ignore[no-untyped-def]
    held = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts the TCP connection, never answers the ClientHello

    server = await asyncio.start_server(silent, "127.0.0.1", unused_tcp_port)
    try:
        client = cls(HttpSettings(verify_tls=False, timeouts={"connect": 0.3, "total": 5.0}))
        assert await _failure(client, f"https://127.0.0.1:{unused_tcp_port}/") == ("tls error", "handshake timeout")
        assert client.open_connections() == 0  # the failed handshake is not counted as an open connection
        assert len(held) == 1  # the TCP connect itself succeeded: the handshake is what timed out
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_plain_http_server_on_an_https_url_is_a_tls_error(test_server) -> None:  # type: ignore[no-untyped-def]
    port = test_server.url.rsplit(":", 1)[1]
    name, message = await _failure(FastHttpClient(_settings(verify_tls=False)), f"https://127.0.0.1:{port}/ok")
    assert name == "tls error" and message.startswith("handshake failed: ")


async def test_sessions_are_resumed_on_new_connections(tls_server, certs: Certs) -> None:  # type: ignore[no-untyped-def]
    client = FastHttpClient(_settings(ca_bundle=str(certs.ca)))
    _, _, _, first = await _get(client, tls_server.url + "/ok")
    assert client.tls_sessions_reused() == 0  # the first handshake is a full one
    for pool in client._pools.values():  # close the idle connection: the next request opens another
        for conn in pool:
            conn.transport.close()
    while client.open_connections():
        await asyncio.sleep(0.01)
    _, _, _, second = await _get(client, tls_server.url + "/ok")
    assert second.tls_ns > 0
    assert client.tls_sessions_reused() == 1  # the re-opened connection resumed the kept session
    assert tls_server.connections == 2
    await client.close()


async def test_server_closing_idle_tls_connections_is_handled(certs: Certs) -> None:
    server = await start_tls_server(certs, keepalive=0.1)
    client = FastHttpClient(_settings(ca_bundle=str(certs.ca)))
    try:
        for _ in range(3):
            status, *_ = await _get(client, server.url + "/ok")
            assert status == 200
            while client.open_connections():  # the server closes the idle connection
                await asyncio.sleep(0.02)
        assert server.state.counts["/ok"] == 3 and server.connections == 3
    finally:
        await client.close()
        await server.close()


async def test_run_over_https_counts_what_the_server_saw_and_reuses_connections(tls_server, certs: Certs) -> None:  # type: ignore[no-untyped-def]
    body = f"""
[http]
ca_bundle = "{certs.ca}"
[load]
users = 4
spawn_rate = 100
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/ok"
"""
    _, final = await run_to_end(make_profile(tls_server.url, body, duration="1s"))
    row = final.find("http", "GET /ok")
    assert row is not None and row.count > 20 and row.failures == 0
    assert tls_server.state.counts["/ok"] == row.count
    assert tls_server.connections <= 4  # keep-alive over TLS: one connection per user at most


def test_check_files_names_the_key(certs: Certs, tmp_path: Path) -> None:
    assert check_files(HttpSettings(ca_bundle=str(certs.ca), client_cert=str(certs.client_cert),
                                    client_key=str(certs.client_key))) == []
    assert check_files(HttpSettings(client_cert=str(certs.client_both))) == []
    missing = tmp_path / "nope.pem"
    assert check_files(HttpSettings(ca_bundle=str(missing))) == [f"http.ca_bundle: no such file {str(missing)!r}"]
    assert check_files(HttpSettings(client_cert=str(certs.client_cert), client_key=str(missing)))[0].startswith("http.client_key: no such file")
    [mismatch] = check_files(HttpSettings(client_cert=str(certs.client_cert), client_key=str(certs.stray_key)))
    assert mismatch.startswith("http.client_key: ") and "is not the key of http.client_cert" in mismatch
    [no_key] = check_files(HttpSettings(client_cert=str(certs.client_cert)))
    assert no_key.startswith("http.client_cert: ") and "set http.client_key" in no_key
    [not_ca] = check_files(HttpSettings(ca_bundle=str(certs.client_key)))
    assert not_ca.startswith("http.ca_bundle: not a PEM bundle")


def _cli_profile(tmp_path: Path, url: str, http: str) -> Path:
    path = tmp_path / "tls.toml"
    path.write_text(f"""
name = "tls"
target = "{url}"
duration = "1s"
[http]
{http}
[load]
users = 2
spawn_rate = 100
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/"
""")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "liminal_tui", *args], capture_output=True, text=True, timeout=90)


def test_cli_verify_off_warns_and_bad_tls_files_exit_2(certs: Certs, tmp_path: Path) -> None:
    server = ThreadedTlsServer(certs, client_ca=False)
    try:
        done = _cli("--run", str(_cli_profile(tmp_path, server.url, "verify_tls = false")), "--no-report", "-q",
                    "--json", "--workers", "0")
        assert done.returncode == 0, done.stderr
        assert "warning: TLS certificate verification is off" in done.stderr
        summary = json.loads(done.stdout)
        [endpoint] = summary["endpoints"]
        assert endpoint["failures"] == 0
        assert endpoint["requests"] == server.requests > 0
        before = server.requests
        bad = _cli("--run", str(_cli_profile(tmp_path, server.url, f'client_cert = "{certs.client_cert}"\n'
                                            f'client_key = "{certs.stray_key}"')), "--no-report", "-q")
        assert bad.returncode == 2
        assert "http.client_key:" in bad.stderr and "Traceback" not in bad.stderr
        assert server.requests == before  # refused before any request
    finally:
        server.close()


async def test_connection_timings_of_a_run_over_https(tls_server, certs: Certs) -> None:  # type: ignore[no-untyped-def]
    body = f"""
[http]
ca_bundle = "{certs.ca}"
[load]
users = 3
spawn_rate = 100
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/delay/20"
"""
    _, final = await run_to_end(make_profile(tls_server.url, body, duration="1s"))
    row = final.find("http", "GET /delay/20")
    assert row is not None and row.failures == 0 and row.count > 10
    assert row.ttfb is not None and row.ttfb.count == row.count
    assert 20.0 <= row.ttfb.min <= row.latency.min  # the server's 20 ms of thinking, before the body
    assert row.connect is not None and row.tls is not None
    assert row.connect.count == row.tls.count == tls_server.connections  # only requests that opened one
    assert row.tls.max < 1000.0


def _https(wss_url: str) -> str:
    return "https" + wss_url[3:]  # the target; ws_connect's path is taken under wss:// of it


def _wss_profile(http: str) -> str:
    return f"""
[http]
{http}
[load]
users = 2
spawn_rate = 100
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "ws_connect"
path = "/echo"
[[scenarios.steps]]
type = "ws_send"
text = "hi ${{iteration}}"
[[scenarios.steps]]
type = "ws_wait"
name = "echo"
contains = "hi"
timeout = "2s"
"""


@pytest.mark.parametrize("client", ["auto", "aiohttp"])
async def test_wss_uses_the_http_tls_settings_ca_bundle_and_client_certificate(certs: Certs, client: str) -> None:
    """wss:// takes ``ca_bundle``, ``client_cert`` and ``client_key`` from ``[http]``, as HTTP does: against a
    server that requires a client certificate, with a CA the system trust store does not know."""
    server = await start_wss_server(certs)
    try:
        http = f'client = "{client}"\nca_bundle = "{certs.ca}"\nclient_cert = "{certs.client_cert}"\nclient_key = "{certs.client_key}"'
        _, final = await run_to_end(make_profile(_https(server.url), _wss_profile(http), duration="1s"))
        connect = final.find("ws_connect", "WS /echo")
        assert connect is not None and connect.count == 2 and connect.failures == 0
        echo = final.find("ws_message", "echo")
        assert echo is not None and echo.count > 5 and echo.failures == 0
        assert server.connections == 2 and server.messages >= echo.count
        # TLS records on the socket: no kernel arrival stamp for these messages, and the summary says so
        assert final.ws.messages_timed_at_read == final.ws.messages_in >= echo.count
    finally:
        await server.close()


@pytest.mark.parametrize("http, message", [
    ("", "certificate verify failed: "),  # the system trust store does not know the test's CA
    ('ca_bundle = "{ca}"', "certificate required by the server (set http.client_cert)"),
])
async def test_wss_tls_failures_have_the_http_clients_names(certs: Certs, http: str, message: str) -> None:
    server = await start_wss_server(certs)
    try:
        _, final = await run_to_end(make_profile(_https(server.url), _wss_profile(http.format(ca=certs.ca)), duration="0.5s"))
        connect = final.find("ws_connect", "WS /echo")
        assert connect is not None and connect.failures >= 2 and connect.count == 0
        assert {e.error for e in final.errors} == {"tls error"}
        assert all(e.message.startswith(message) for e in final.errors), final.errors
        assert server.connections == 0
    finally:
        await server.close()


async def test_timings_switched_off(test_server) -> None:  # type: ignore[no-untyped-def]
    body = """
[http]
timings = false
[load]
users = 2
spawn_rate = 100
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/ok"
"""
    _, final = await run_to_end(make_profile(test_server.url, body, duration="1s"))
    row = final.find("http", "GET /ok")
    assert row is not None and row.count > 0
    assert row.ttfb is None and row.connect is None and row.tls is None
