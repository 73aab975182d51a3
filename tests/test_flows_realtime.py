"""Real-time flows, as locustfiles write them, against tests/flow_servers.py on 127.0.0.1: a WebSocket
handshake after every connect, Socket.IO namespaces, auth, acks and events.

Each test runs the real engine and compares its counts with what the server saw (and refused).
"""

from __future__ import annotations

import pytest

from flow_servers import endpoint as _count
from servers import make_profile, run_to_end

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


async def test_socketio_refused_auth_is_a_connect_failure(flow_server):
    body = SOCKETIO.replace('token = "ok"', 'token = "bad"')
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="0.5s"), tick=0.1)
    assert _count(final, "chat", "ws_connect").failures == 2 == flow_server.state.sio_refused
    assert flow_server.state.sio_joins == 0
