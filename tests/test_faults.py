"""Every fault mode of tests/servers.py, each in a short in-process run.

For each: the run goes on to its end, every failure is counted under one clear error name, and the
engine's count of requests (successes + failures) equals what the server saw, where it can count.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from runs import make_profile, run_to_end

pytestmark = pytest.mark.timeout(60)

TIMEOUTS = """
[http.timeouts]
connect = "0.5s"
read = "0.3s"
total = "0.8s"
"""


def _http(path: str, users: int = 2, extra_step: str = "") -> str:
    return TIMEOUTS + f"""
[load]
users = {users}
spawn_rate = 1000

[[scenarios]]
name = "fault"
[[scenarios.steps]]
type = "http"
path = "{path}"
name = "fault"
{extra_step}
"""


async def _fault_run(target: str, path: str, duration: str = "1s", **kw):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    run, final = await run_to_end(make_profile(target, _http(path, **kw), duration=duration), tick=0.1)
    assert str(final.stop_reason) == "completed", final.stop_reason  # the run went on to its end
    assert final.elapsed >= float(run.profile.duration)
    assert time.perf_counter() - started < float(run.profile.duration) + 2.5
    ep = final.find("http", "fault")
    assert ep is not None
    errors = {e.error: e.count for e in final.errors if e.name == "fault"}
    assert sum(errors.values()) == ep.failures  # every failure is named
    return final, ep, errors


async def test_connect_refused(test_server, closed_port):
    # The target passes preflight; the step's full URL points at a port nothing listens on.
    final, ep, errors = await _fault_run(test_server.url, f"http://127.0.0.1:{closed_port}/x")
    assert ep.count == 0 and ep.failures > 0
    assert errors == {"connect refused": ep.failures}


async def test_5xx_burst_is_counted_per_status(test_server):
    body = _http("/ok") + """
[[scenarios.steps]]
type = "http"
path = "/status/503"
name = "burst"
"""
    _, final = await run_to_end(make_profile(test_server.url, body, duration="1s"), tick=0.1)
    ok, burst = final.find("http", "fault"), final.find("http", "burst")
    counts = test_server.state.counts
    assert ok.failures == 0 and ok.count == counts["/ok"]
    assert burst.count == 0 and burst.failures == counts["/status/503"] > 0
    assert dict(burst.statuses) == {503: burst.failures}
    assert [(e.name, e.error, e.count) for e in final.errors] == [("burst", "HTTP 503", burst.failures)]


async def test_503_accepted_by_a_check_is_a_success(test_server):
    _, ep, errors = await _fault_run(test_server.url, "/status/503", extra_step="check = { status = [200, 503] }")
    assert ep.failures == 0 and not errors
    assert ep.count == test_server.state.counts["/status/503"] > 0


async def test_connection_reset_mid_response(test_server):
    _, ep, errors = await _fault_run(test_server.url, "/reset")
    assert ep.count == 0 and ep.failures == test_server.state.counts["/reset"] > 0
    # Headers arrived, the body was cut: aiohttp reports the short body or the reset itself.
    assert len(errors) == 1 and set(errors) <= {"incomplete body", "connection reset"}, errors


async def test_never_answering_endpoint_times_out(test_server):
    _, ep, errors = await _fault_run(test_server.url, "/hang")
    assert ep.count == 0 and ep.failures == test_server.state.counts["/hang"]
    assert errors == {"timeout": ep.failures}
    assert 2 <= ep.failures <= 8  # two users, one timeout (0.3 s read) after another for 1 s
    assert ep.failed_latency.min >= 300


async def test_slow_trickling_body(test_server):
    # 4 bytes, 100 ms apart: each byte comes within the read timeout, the whole within the total.
    _, ep, errors = await _fault_run(test_server.url, "/trickle/4/100")
    assert ep.failures == 0 and ep.count == test_server.state.counts["/trickle/4/100"] > 0
    assert ep.latency.min >= 400
    # 20 bytes, 100 ms apart: never a read timeout, but the total limit (0.8 s) ends each request.
    _, ep, errors = await _fault_run(test_server.url, "/trickle/20/100", duration="0.8s")
    assert ep.count == 0 and ep.failures == test_server.state.counts["/trickle/20/100"] > 0
    assert errors == {"timeout": ep.failures}


async def test_malformed_http(garbage_server):
    _, ep, errors = await _fault_run(garbage_server.url, "/x")
    assert ep.count == 0 and ep.failures > 0
    assert errors == {"bad response": ep.failures}
    assert garbage_server.connections == ep.failures + 1  # one connection per request, plus preflight


async def test_stall_switch_delays_without_failing(test_server):
    """Stall every response for 0.25 s mid-run (below the read timeout): slow, not failed."""
    from liminal_tui.engine.run import Run

    run = Run(make_profile(test_server.url, _http("/stall", users=3), duration="1.2s"), workers=0, tick=0.1)
    sub = run.bus.subscribe("every")
    await run.start()
    async with asyncio.timeout(5):
        async for snap in sub:
            if (ep := snap.find("http")) is not None and ep.total:
                break
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{test_server.url}/_control/stall", params={"seconds": "0.25"}) as resp:
            assert resp.status == 200
    final = await asyncio.wait_for(run.wait(), 10)
    ep = final.find("http", "fault")
    assert str(final.stop_reason) == "completed" and ep.failures == 0
    assert ep.count == test_server.state.counts["/stall"]
    assert ep.latency.max >= 200 and ep.latency.p50 < 50


# ---------------------------------------------------------------- WebSocket faults

def _ws(path: str, users: int = 2, heartbeat: str = "0.1s", more: str = "") -> str:
    return f"""
[load]
users = {users}
spawn_rate = 1000

[[scenarios]]
name = "ws"
[[scenarios.steps]]
type = "ws_connect"
path = "{path}"
name = "ws"
heartbeat = "{heartbeat}"
backoff_max = "0.2s"
connect_timeout = "1s"
{more or '[[scenarios.steps]]' + chr(10) + 'type = "ws_hold"' + chr(10) + 'duration = "30s"'}
"""


async def _ws_run(server, path: str, duration: str = "1.5s", **kw):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    _, final = await run_to_end(make_profile(server.url, _ws(path, **kw), duration=duration), tick=0.1)
    assert str(final.stop_reason) == "completed"
    assert time.perf_counter() - started < float(duration[:-1]) + 2.5
    return final


async def test_ws_closed_with_an_error_code_reconnects(test_server):
    final = await _ws_run(test_server, "/ws/close/1011")
    connect = final.find("ws_connect", "ws")
    # The users reconnect every ~0.1-0.2 s until the run stops; a reconnect still in its handshake then is
    # cancelled, not a sample: the server may have counted it (at most one a user), the tool not.
    assert connect.count <= test_server.state.ws_connects["/ws/close/1011"] <= connect.count + 2
    # each close with 1011 is a failure of the connect's endpoint, named for its code, reason as message
    assert connect.failures == final.ws.drops >= 4
    assert [(e.kind, e.error, e.message) for e in final.errors] == [("ws_connect", "ws close 1011", "test server error")]
    assert final.ws.connects == connect.count
    assert final.ws.drops >= 4 and final.ws.reconnects >= 2  # each close is a drop, then a reconnect
    assert final.ws.reconnects == final.ws.connects - 2  # two users: everything after their first
    # one "bye" per connection; a connection opened just before the stop may not have read its own yet
    assert connect.count - 2 <= final.ws.messages_in <= connect.count


async def test_ws_closed_normally_is_no_failure(test_server):
    final = await _ws_run(test_server, "/ws/close/1000")
    connect = final.find("ws_connect", "ws")
    assert connect.failures == 0 and final.ws.drops >= 4 and not final.errors


async def test_ws_message_over_the_size_limit_is_a_failure(test_server):
    """websockets drops a message over its max_size by closing with 1009: counted, never silent."""
    more = '[[scenarios.steps]]\ntype = "ws_hold"\nduration = "30s"'
    body = _ws("/ws/big/2000", heartbeat="0s", more=more).replace('connect_timeout = "1s"', 'connect_timeout = "1s"\nmax_message_size = 1000')
    _, final = await run_to_end(make_profile(test_server.url, body, duration="1s"), tick=0.1)
    connect = final.find("ws_connect", "ws")
    assert connect.failures >= 2 and final.ws.messages_in == 0
    assert {e.error for e in final.errors} == {"message too big"}
    # the same message under a limit that allows it arrives
    _, final = await run_to_end(make_profile(test_server.url, body.replace("= 1000", "= 2000"), duration="0.5s"), tick=0.1)
    assert final.ws.messages_in >= 2 and not final.errors


async def test_ws_dropped_every_300ms_reconnects(test_server):
    final = await _ws_run(test_server, "/ws/drop/300")
    connect = final.find("ws_connect", "ws")
    assert connect.count <= test_server.state.ws_connects["/ws/drop/300"] <= connect.count + 2  # as above
    assert final.ws.drops >= 4 and final.ws.reconnects == final.ws.connects - 2 >= 4
    ping = final.find("ws_ping", "ws")
    assert ping.count > 0  # heartbeats go on between drops
    assert {e.error for e in final.errors if e.kind == "ws_ping"} <= {"ws closed"}


async def test_ws_pings_never_answered_are_timeouts(test_server):
    # A missing pong is judged after max(heartbeat, 1 s) * 2 = 2 s.
    final = await _ws_run(test_server, "/ws/silent", duration="2.5s", heartbeat="0.2s")
    ping = final.find("ws_ping", "ws")
    assert ping.count == 0 and ping.failures >= 2
    assert [(e.kind, e.error) for e in final.errors] == [("ws_ping", "timeout")]
    assert ping.failed_latency.min >= 1990  # HdrHistogram: 3 significant digits
    assert final.ws.drops == 0 and final.ws.connects == 2


async def test_ws_connect_refused(test_server, closed_port):
    final = await _ws_run(test_server, f"ws://127.0.0.1:{closed_port}/ws", duration="1s")
    connect = final.find("ws_connect", "ws")
    assert connect.count == 0 and connect.failures >= 2
    assert {e.error for e in final.errors} == {"connect refused"}
    assert final.ws.connects == 0


SEND_ONLY = """
[[scenarios.steps]]
type = "ws_send"
text = "x"
"""


async def test_ws_send_loop_on_a_dropping_socket_does_not_starve_the_engine(test_server):
    """A closed-model iteration that never suspends (ws_send only buffers) must still let the worker
    tick, reconnect and stop on time."""
    final = await _ws_run(test_server, "/ws/drop/300", heartbeat="0s", more=SEND_ONLY)
    assert final.ws.messages_out > 0
    assert final.ws.reconnects >= 2
    assert final.elapsed < 3
