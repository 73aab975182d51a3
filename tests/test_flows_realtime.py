"""Real-time flows, as locustfiles write them, against tests/flow_servers.py on 127.0.0.1: a WebSocket
handshake after every connect, Socket.IO namespaces, auth, acks and events, and Socket.IO over TLS with
``[http]``'s CA bundle, verification switch and client certificate.

Each test runs the real engine and compares its counts with what the server saw (and refused).
"""

from __future__ import annotations

import pytest

from flow_servers import endpoint as _count, start_flow_server
from runs import make_profile, run_to_end
from tls_servers import make_certs, server_context

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------- 1b. a WebSocket handshake after every connect

CHAT = """
[load]
users = 2
spawn_rate = 1000

[[scenarios]]
name = "chat"
on_failure = "continue"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws/chat"
name = "chat"
backoff_max = "0.05s"
on_connect = [
  {{ type = "ws_send", json = {{ op = "hello", user = "${{user}}" }} }},
  {{ type = "ws_wait", name = "welcome", match = {{ op = "welcome" }}, timeout = "2s" }},
]
[[scenarios.steps]]
type = "ws_send"
json = {{ op = "say", text = "hi ${{iteration}}" }}
[[scenarios.steps]]
type = "ws_wait"
name = "echo"
match = {{ op = "echo" }}
timeout = "{timeout}"
"""


async def test_on_connect_runs_after_every_connect_and_reconnect(flow_server):
    flow_server.state.drop_after = 3  # the server drops each connection after 3 messages
    _, final = await run_to_end(make_profile(flow_server.url, CHAT.format(timeout="0.3s"), duration="1.5s"), tick=0.1)
    st = flow_server.state
    assert st.ws_rude == 0  # nothing was said before the handshake, reconnects included
    assert final.ws.reconnects >= 2
    assert st.ws_connects == _count(final, "chat", "ws_connect").count
    assert st.ws_hellos == st.ws_connects == _count(final, "welcome", "ws_message").count
    assert _count(final, "echo", "ws_message").count == st.ws_says


# ---------------------------------------------------------------- 8. Socket.IO: namespace, auth, emit with ack, events

SOCKETIO = """
[load]
users = 2
spawn_rate = 1000

[[scenarios]]
name = "sio"
[[scenarios.setup]]
type = "socketio_connect"
namespace = "/chat"
name = "chat"
auth = { token = "ok" }
[[scenarios.steps]]
type = "socketio_emit"
event = "join"
data = { room = "lobby" }
ack = "join ack"
[[scenarios.steps]]
type = "socketio_wait"
event = "message"
name = "lobby message"
match = { room = "lobby" }
since = "previous"
timeout = "2s"
"""


async def test_socketio_connect_emit_with_ack_and_wait(flow_server):
    _, final = await run_to_end(make_profile(flow_server.url, SOCKETIO, duration="1s"), tick=0.1)
    st = flow_server.state
    connect, ack, message = (_count(final, "chat", "ws_connect"), _count(final, "join ack", "ws_message"),
                             _count(final, "lobby message", "ws_message"))
    assert connect.count == 2 == st.sio_connects and st.sio_refused == 0  # once per user, in setup
    assert connect.failures == 0  # closing at the end is not a drop
    assert ack.failures == message.failures == 0, final.errors
    assert ack.count == st.sio_joins > 4 and message.count == ack.count
    assert final.ws.messages_timed_at_read == final.ws.messages_in > 0  # engineio reads: no arrival stamp, said


async def test_socketio_refused_auth_is_a_connect_failure(flow_server):
    body = SOCKETIO.replace('token = "ok"', 'token = "bad"')
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="0.5s"), tick=0.1)
    assert _count(final, "chat", "ws_connect").failures == 2 == flow_server.state.sio_refused
    assert flow_server.state.sio_joins == 0


# ---------------------------------------------------------------- Socket.IO over TLS: [http]'s settings

@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_certs(tmp_path_factory.mktemp("certs"))


def _sio_tls(http: str) -> str:
    return f"[http]\n{http}\n" + SOCKETIO


@pytest.mark.parametrize("http", ['ca_bundle = "{ca}"', "verify_tls = false"])
async def test_socketio_over_tls_takes_the_http_tls_settings(certs, http: str) -> None:  # type: ignore[no-untyped-def]
    """A self-signed server: the profile's CA bundle verifies it, or verification is off."""
    server = await start_flow_server(server_context(certs))
    try:
        assert server.url.startswith("https://")
        _, final = await run_to_end(make_profile(server.url, _sio_tls(http.format(ca=certs.ca)), duration="1s"), tick=0.1)
        st = server.state
        connect, ack = _count(final, "chat", "ws_connect"), _count(final, "join ack", "ws_message")
        assert connect.count == 2 == st.sio_connects and connect.failures == 0, final.errors
        assert ack.failures == 0 and ack.count == st.sio_joins > 4
    finally:
        await server.close()


async def test_socketio_tls_verification_failure_is_the_named_tls_error(certs) -> None:  # type: ignore[no-untyped-def]
    """Verification on (the default) against the system trust store, which does not know the test's CA."""
    server = await start_flow_server(server_context(certs))
    try:
        _, final = await run_to_end(make_profile(server.url, SOCKETIO, duration="0.5s"), tick=0.1)
        assert _count(final, "chat", "ws_connect").failures == 2 and server.state.sio_connects == 0
        assert {e.error for e in final.errors} == {"tls error"}, final.errors
        assert all(e.message.startswith("certificate verify failed: ") for e in final.errors), final.errors
    finally:
        await server.close()


async def test_socketio_mutual_tls_presents_the_client_certificate(certs) -> None:  # type: ignore[no-untyped-def]
    server = await start_flow_server(server_context(certs, client_ca=True))
    try:
        http = f'ca_bundle = "{certs.ca}"\nclient_cert = "{certs.client_cert}"\nclient_key = "{certs.client_key}"'
        _, final = await run_to_end(make_profile(server.url, _sio_tls(http), duration="1s"), tick=0.1)
        connect = _count(final, "chat", "ws_connect")
        assert connect.count == 2 == server.state.sio_connects and connect.failures == 0, final.errors
        assert _count(final, "join ack", "ws_message").count == server.state.sio_joins > 4
        # without the client certificate the server refuses the handshake: the same name as every client's
        _, final = await run_to_end(make_profile(server.url, _sio_tls(f'ca_bundle = "{certs.ca}"'), duration="0.5s"), tick=0.1)
        assert _count(final, "chat", "ws_connect").failures == 2 and server.state.sio_connects == 2
        assert {(e.error, e.message) for e in final.errors} == {
            ("tls error", "certificate required by the server (set http.client_cert)")}, final.errors
    finally:
        await server.close()
