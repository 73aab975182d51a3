"""The load engine against real servers on 127.0.0.1: counts, latencies, load models, control, preflight.

Every run here is in-process (``workers=0``) except one that uses a real worker process.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from liminal_tui.engine.clients.ws_arrival import SO_TIMESTAMPNS
from liminal_tui.engine.preflight import PreflightError
from liminal_tui.engine.run import Run
from liminal_tui.metrics.events import StopCause, StopReason
from liminal_tui.session import Session
from runs import make_profile, run_to_end

pytestmark = pytest.mark.timeout(60)


async def _demo_stats(url: str) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/_stats") as resp:
            return await resp.json()


async def _first(sub, predicate, limit: float = 10.0):  # type: ignore[no-untyped-def]
    """The first snapshot on ``sub`` for which ``predicate`` holds (within ``limit`` seconds)."""
    async with asyncio.timeout(limit):
        async for snap in sub:
            if predicate(snap):
                return snap
            assert not snap.final, f"run ended before the condition held: {snap}"
    raise AssertionError("subscription ended")


# ---------------------------------------------------------------- the demo target

CRUD = """
[load]
users = 4
spawn_rate = 100

[[scenarios]]
name = "crud"
weight = 4

[[scenarios.steps]]
type = "http"
method = "POST"
path = "/api/memories"
json = { content = "memory ${seq}", tags = ["t"] }
check = { status = 201, json_has = ["id"] }
extract = { memory_id = "json:id" }

[[scenarios.steps]]
type = "http"
path = "/api/memories/${memory_id}"
name = "GET /api/memories/{id}"
check = { status = 200, json_equals = { id = "${memory_id}" } }

[[scenarios.steps]]
type = "http"
path = "/api/memories"
query = { per_page = "5" }
check = { json_has = ["items.0.id"] }

[[scenarios.steps]]
type = "http"
method = "PATCH"
path = "/api/memories/${memory_id}"
name = "PATCH /api/memories/{id}"
json = { content = "patched ${uuid}" }
check = { status = 200, json_equals = { version = 2 } }

[[scenarios]]
name = "wrong status"
[[scenarios.steps]]
type = "http"
path = "/health"
name = "health 418"
check = { status = 418 }

[[scenarios]]
name = "wrong body"
[[scenarios.steps]]
type = "http"
path = "/health"
name = "health body"
check = { body_contains = "no such text" }
"""

CRUD_ROUTES = ("POST /api/memories", "GET /api/memories/{id}", "GET /api/memories", "PATCH /api/memories/{id}")


@pytest.mark.slow
async def test_demo_closed_run_counts_match_the_server(demo_server):
    """Create -> get by extracted id -> list -> patch: every request the server saw, the engine counted."""
    _, final = await run_to_end(make_profile(demo_server.url, CRUD, duration="3s"))
    stats = await _demo_stats(demo_server.url)
    routes = stats["by_route"]
    http = final.find("http")
    assert http is not None and http.count > 100
    assert stats["requests_total"] - routes.get("GET /ws", 0) == http.total

    for route in CRUD_ROUTES:  # extraction worked: GET/PATCH by id never failed
        ep = final.find("http", route)
        assert ep is not None and ep.count > 0 and ep.failures == 0, (route, ep, final.errors[:3])
        assert routes[route] == ep.total, route
    assert final.find("http", "GET /api/memories/{id}").count == final.find("http", "POST /api/memories").count

    wrong_status, wrong_body = final.find("http", "health 418"), final.find("http", "health body")
    assert wrong_status.count == 0 and wrong_status.failures > 0
    assert wrong_body.count == 0 and wrong_body.failures > 0
    assert routes["GET /health"] == wrong_status.failures + wrong_body.failures
    errors = {(e.name, e.error): e.count for e in final.errors}
    assert errors == {("health 418", "HTTP 200"): wrong_status.failures,
                      ("health body", "check failed"): wrong_body.failures}
    assert final.final and str(final.stop_reason) == "completed" and final.phase == "finished"


WS = """
[load]
users = 3
spawn_rate = 100

[[scenarios]]
name = "live"

[[scenarios.steps]]
type = "ws_connect"
path = "/ws"
heartbeat = "0.2s"

[[scenarios.steps]]
type = "http"
method = "POST"
path = "/api/memories"
json = { content = "watched ${seq}" }
check = { status = 201 }
extract = { memory_id = "json:id" }

[[scenarios.steps]]
type = "http"
method = "PATCH"
path = "/api/memories/${memory_id}"
name = "PATCH /api/memories/{id}"
json = { content = "changed ${seq}" }

[[scenarios.steps]]
type = "ws_wait"
name = "broadcast memory.updated"
match = { type = "memory.updated", id = "${memory_id}" }
since = "previous"
timeout = "2s"

[[scenarios.steps]]
type = "ws_hold"
duration = "50ms"
"""


async def test_demo_websocket_heartbeat_and_broadcast_latency(demo_server):
    _, final = await run_to_end(make_profile(demo_server.url, WS, duration="2.5s"))
    ping = final.find("ws_ping", "WS /ws")
    assert ping is not None and ping.count > 0 and ping.failures == 0
    assert 0 < ping.latency.p50 < 50
    broadcast = final.find("ws_message", "broadcast memory.updated")
    assert broadcast is not None and broadcast.count > 0 and broadcast.failures == 0
    assert 0 < broadcast.latency.p50 < 100  # update sent -> event received, on loopback
    connect = final.find("ws_connect", "WS /ws")
    assert connect.count == 3 and connect.failures == 0  # one socket per user, kept across iterations
    assert final.ws.connects == 3 and final.ws.messages_in > broadcast.count  # heartbeats come too
    if SO_TIMESTAMPNS is not None:  # ws:// on Linux: every message timed from the kernel's arrival stamp,
        # the greeting and broadcasts that come in the handshake's read too (the stamped reads begin with it)
        assert final.ws.messages_timed_at_read == 0
    assert final.ws.drops == 0 and final.ws.open == 0
    assert (await _demo_stats(demo_server.url))["ws_connects"] == 3


# ---------------------------------------------------------------- accuracy

def _get(path: str, users: int = 5, extra: str = "") -> str:
    return f"""
[load]
users = {users}
spawn_rate = 1000
{extra}
[[scenarios]]
name = "get"
[[scenarios.steps]]
type = "http"
path = "{path}"
"""


async def test_latency_of_a_50ms_server_is_reported_within_a_few_ms(test_server):
    _, final = await run_to_end(make_profile(test_server.url, _get("/delay/50"), duration="3s"))
    ep = final.find("http", "GET /delay/50")
    assert ep.failures == 0 and ep.count >= 150
    assert ep.count == test_server.state.counts["/delay/50"]
    lat = ep.latency
    assert 50 <= lat.min and 50 <= lat.p50 <= 56, lat
    # The tail up to p90 (~28 of ~280 requests): a bias there would show. Not p99: the server shares this
    # test's event loop, and one stall of it on a loaded CI box (measured there: 68 ms for 3 of 141, p95
    # 54.8) lands on the 5 requests then in flight, server and client alike; with both cores of this box
    # kept busy, p90 56.0, p95 60.6.
    assert lat.p90 <= 60, lat
    assert 50 <= lat.mean <= 57, lat


def _open(path: str, rate: int, max_in_flight: int) -> str:
    return f"""
[load]
model = "open"
rate = {rate}
max_in_flight = {max_in_flight}
[[scenarios]]
name = "arrivals"
[[scenarios.steps]]
type = "http"
path = "{path}"
"""


async def test_open_model_corrects_coordinated_omission(test_server):
    """100 arrivals/s for 2.5 s, one at a time; the 50th request takes 1 s. The ~100 arrivals queued behind
    it must show their wait (corrected latency) while the service time of all but one stays tiny."""
    path = "/stall-once/50/1000"
    _, final = await run_to_end(make_profile(test_server.url, _open(path, 100, 1), duration="2.5s"))
    ep = final.find("http", f"GET {path}")
    assert ep.failures == 0 and final.dropped == 0
    assert 240 <= ep.count <= 251 and ep.count == test_server.state.counts[path]
    assert ep.latency.p99 >= 800, ep.latency  # corrected: the backlog waited up to 1 s
    assert ep.latency.max >= 1000
    assert ep.service is not None
    assert ep.service.p99 < 200, ep.service  # uncorrected: only one slow request of ~300
    assert ep.service.max >= 1000


async def test_open_model_starts_arrivals_on_time(test_server):
    """Without a stall, corrected latency ~ service time: the generator adds no scheduling lag of its own."""
    _, final = await run_to_end(make_profile(test_server.url, _open("/ok", 50, 10), duration="1.5s"))
    ep = final.find("http", "GET /ok")
    assert 73 <= ep.count <= 76 and ep.failures == 0
    assert ep.latency.p50 - ep.service.p50 < 5, (ep.latency, ep.service)
    assert ep.latency.p90 - ep.service.p90 < 10, (ep.latency, ep.service)


# ---------------------------------------------------------------- control

async def test_stop_is_graceful_and_loses_no_completed_sample(test_server):
    path = "/delay/100"
    run = Run(make_profile(test_server.url, _get(path, users=10), duration="30s"), workers=0, tick=0.25, grace=2.0)
    sub = run.bus.subscribe("every")
    await run.start()
    await _first(sub, lambda s: bool(s.find("http")))
    started = time.perf_counter()
    await run.stop()
    final = await asyncio.wait_for(run.wait(), 5)
    assert time.perf_counter() - started < run.grace
    assert final.final and str(final.stop_reason) == "stopped" and final.elapsed < 5
    ep = final.find("http", f"GET {path}")
    assert ep.failures == 0
    assert ep.count == test_server.state.counts[path]  # in-flight requests finished and were counted


async def test_abort_stops_at_once_and_still_publishes_the_final_snapshot(test_server):
    path = "/delay/300"
    run = Run(make_profile(test_server.url, _get(path, users=10), duration="30s"), workers=0, tick=0.25)
    sub = run.bus.subscribe("every")
    await run.start()
    await _first(sub, lambda s: bool(s.find("http")))
    started = time.perf_counter()
    run.abort()
    final = await _first(sub, lambda s: s.final)
    assert time.perf_counter() - started < 2.0
    assert final is run.final and str(final.stop_reason) == "aborted"
    ep = final.find("http", f"GET {path}")
    assert 0 < ep.total <= test_server.state.counts[path]  # cancelled in-flight requests are not samples
    assert test_server.state.counts[path] - ep.total <= 10  # at most one per user was cut short


async def test_set_load_changes_active_users(test_server):
    run = Run(make_profile(test_server.url, _get("/delay/20", users=2), duration="30s"), workers=0, tick=0.25)
    sub = run.bus.subscribe("every")
    await run.start()
    try:
        await _first(sub, lambda s: s.users == 2)
        run.set_load(6)
        snap = await _first(sub, lambda s: s.users == 6)
        assert snap.target_load == 6
        run.set_load(1)
        await _first(sub, lambda s: s.users == 1 and s.target_load == 1)
    finally:
        await run.stop()
    final = await asyncio.wait_for(run.wait(), 5)
    assert final.final and final.find("http").failures == 0
    # summary.json's peak is what the run reached, live changes included; the plan beside it
    from liminal_tui.report.summary import build_summary
    from liminal_tui.report.timeline import Health

    load = build_summary(profile=run.profile, target_url=test_server.url, started_at=0.0, tool_version="t",
                         settings={}, final=final, verdicts=[], notes=[], health=Health())["load"]
    assert (load["peak"], load["planned_peak"], load["users"]) == (6, 2, 2)


@pytest.mark.slow
async def test_a_real_worker_process_counts_what_the_server_served(test_server):
    path = "/delay/10"
    run, final = await run_to_end(make_profile(test_server.url, _get(path, users=3), duration="2s"), workers=1)
    ep = final.find("http", f"GET {path}")
    assert ep is not None and ep.count > 10 and ep.failures == 0
    assert ep.count == test_server.state.counts[path]
    assert str(final.stop_reason) == "completed"
    assert [h.worker for h in final.health] == [0]


async def test_preflight_refuses_a_closed_port_before_any_load(closed_port):
    session = Session(make_profile(f"http://127.0.0.1:{closed_port}", _get("/ok")), workers=0, report_base=None)
    with pytest.raises(PreflightError, match="refused"):
        await session.start()
    assert session.run.started_at is None and session.run.bus.latest is None


@pytest.mark.slow
async def test_threshold_with_abort_on_fail_stops_the_run_early(test_server):
    body = _get("/delay/20", users=2) + """
[thresholds]
abort_on_fail = true
http = ["p99 < 1ms"]
"""
    started = time.perf_counter()
    _, final = await run_to_end(make_profile(test_server.url, body, duration="4s"), tick=0.2)
    assert str(final.stop_reason) == "threshold lost: http p99 < 1ms"  # judged from 25% of the duration on
    assert final.elapsed < 3 and time.perf_counter() - started < 3.5
    assert final.find("http").count == test_server.state.counts["/delay/20"]


def test_interval_rate_is_over_the_time_the_reports_cover():
    """The final report covers only up to the stop (here 0.5 s after the last tick) and arrives while
    the main side's clock says 0.9 s: its rate is over 0.5 s. A late wake-up does not stretch a tick."""
    from liminal_tui.metrics.aggregate import Aggregator
    from liminal_tui.metrics.recorder import Recorder
    from liminal_tui.metrics.snapshot import IntervalReport, WorkerHealth

    agg = Aggregator("p", "http://127.0.0.1:1", "closed", duration=2.5)
    rec = Recorder()

    def report(tick: int, t_end: float, n: int, final: bool = False) -> IntervalReport:
        ep = rec.endpoint("http", "GET /", "GET")
        for _ in range(n):
            ep.success(1_000_000, nbytes=1, status=200)
        return IntervalReport(worker=0, tick=tick, t_start=float(tick - 1), t_end=t_end, endpoints=rec.drain(), users=1, target=1.0,
                              iterations=n, dropped=0, http_connections=1, ws_open=0, ws_connects=0,
                              ws_reconnects=0, ws_drops=0, ws_messages_in=0, ws_messages_out=0,
                              health=WorkerHealth(0, 10.0, 0.1, 0.0, 50.0), final=final)

    rates = []
    for tick, (t_end, n, clock) in enumerate([(1.0, 100, 1.2), (2.0, 100, 2.6), (2.5, 50, 2.9)], start=1):
        agg.add(report(tick, t_end, n, final=tick == 3))
        snap = agg.snapshot("steady", min(clock, 2.5), final=tick == 3, clock=clock)
        rates.append(snap.find("http", total=False).rps)
        assert snap.interval == pytest.approx(t_end - (0.0 if tick == 1 else [1.0, 2.0][tick - 2]))
    assert rates == pytest.approx([100.0, 100.0, 100.0])  # by the main side's clock: 83, 71 and 167
    assert snap.find("http").rps == pytest.approx(250 / 2.5)
    # No report in a tick (a worker late): the clock's span, and no rate from nowhere.
    empty = agg.snapshot("steady", 3.5, clock=3.5)
    assert empty.interval == pytest.approx(0.6) and (empty.find("http", total=False) is None or empty.find("http", total=False).rps == 0)


async def test_an_abort_during_a_graceful_stop_is_an_abort(test_server):
    """The second Ctrl-C (or ctrl+x while stopping) drops in-flight requests: the run says aborted."""
    path = "/delay/300"
    run = Run(make_profile(test_server.url, _get(path, users=5), duration="30s"), workers=0, tick=0.25, grace=5.0)
    sub = run.bus.subscribe("every")
    await run.start(test_server.url)
    await _first(sub, lambda s: bool(s.find("http")))
    await run.stop(StopReason(StopCause.INTERRUPTED, "SIGINT"))
    run.abort(StopReason(StopCause.INTERRUPTED, "SIGINT, twice"))
    final = await _first(sub, lambda s: s.final)
    assert str(final.stop_reason) == "interrupted (SIGINT, twice)"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_json_bodies_decode_as_json_loads_does(encoding):
    """Checks decode UTF-8 bodies directly (faster than json.loads on bytes), other encodings as before."""
    import json

    from liminal_tui.engine.steps import _loads

    doc = {"id": 7, "name": "é ☃", "items": [1, 2]}
    assert _loads(json.dumps(doc, ensure_ascii=False).encode(encoding)) == doc
    with pytest.raises(ValueError):
        _loads(b"\xff\xfe{")  # neither valid UTF-8 nor JSON: the same ValueError as json.loads
