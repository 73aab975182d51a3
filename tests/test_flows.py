"""Real flows, as locustfiles write them, against tests/flow_servers.py on 127.0.0.1.

Each test runs the real engine and compares its counts with what the server saw (and refused).
"""

from __future__ import annotations

import pytest

from flow_servers import UPLOAD_BYTES, USERS, start_flow_server
from servers import make_profile, run_to_end

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def flow_server():
    server = await start_flow_server()
    yield server
    await server.close()


def _count(final, name: str, kind: str = "http"):  # type: ignore[no-untyped-def]
    row = final.find(kind, name)
    assert row is not None, f"no endpoint {kind} {name!r}"
    return row


# ---------------------------------------------------------------- 1. setup and teardown once per user

SHOP = """
[load]
users = 3
spawn_rate = 1000

[[scenarios]]
name = "shop"
[[scenarios.setup]]
type = "http"
method = "POST"
path = "/login"
name = "login"
json = {{ username = "user${{user}}", password = "{password}" }}
{policy}
[[scenarios.steps]]
type = "http"
path = "/items"
name = "items"
extract = {{ ids = "json:items[*].id" }}
[[scenarios.steps]]
type = "http"
path = "/items/${{pick:ids}}"
name = "item"
when = "ids exists"
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/cart"
name = "cart"
json = {{ product_id = "${{pick:ids}}", quantity = "${{randint:1:3}}" }}
[[scenarios.teardown]]
type = "http"
method = "POST"
path = "/logout"
name = "logout"
"""


async def test_setup_logs_in_once_per_user_and_teardown_logs_out(flow_server):
    body = SHOP.format(password="pw${user}", policy="")
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="1s"), tick=0.1)
    st = flow_server.state
    assert _count(final, "login").count == 3 == st.counts["login"]  # once per user, not per iteration
    assert dict(st.logins_by) == {"user1": 1, "user2": 1, "user3": 1}
    assert _count(final, "logout").count == 3 == st.counts["logout"] and not st.sessions
    items, item, cart = _count(final, "items"), _count(final, "item"), _count(final, "cart")
    assert items.count > 3 and items.failures == 0
    assert (items.count, item.count, cart.count) == (st.counts["items"], st.counts["item"], st.counts["cart"])
    assert not st.refused, st.refused  # quantities went as numbers, ids were picked from the list
    assert set(st.quantities) <= {1, 2, 3} and st.quantities


async def test_a_failed_setup_ends_the_user_without_a_login_storm(flow_server):
    body = SHOP.format(password="wrong", policy="")
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="0.6s"), tick=0.1)
    login = _count(final, "login")
    assert login.failures == 3 == flow_server.state.refused["login"]  # one attempt each, then the user ends
    assert _count(final, "items").total == 0 and flow_server.state.counts["items"] == 0
    assert _count(final, "logout").total == 0  # teardown only after a setup that worked


async def test_a_failed_setup_retries_with_backoff(flow_server):
    policy = 'on_setup_failure = { action = "retry", times = 2, backoff = "0.05s" }'
    # TOML: the policy belongs to the scenario, so it goes before the first [[scenarios.setup]]
    body = SHOP.format(password="wrong", policy="").replace('name = "shop"\n', f'name = "shop"\n{policy}\n')
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="1s"), tick=0.1)
    assert _count(final, "login").failures == 9 == flow_server.state.refused["login"]  # 3 users x 3 attempts
    assert flow_server.state.counts["items"] == 0


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
