"""The worker-pool seam: every pool speaks the same messages, and the engine counts what the server saw
whichever pool runs the workers (the contract a new pool, e.g. remote hosts, must pass too)."""

from __future__ import annotations

import asyncio
import time

import pytest

from liminal_tui.engine.clock import RunClock
from liminal_tui.engine.messages import Done, Failed, IntervalReport, Lost, Ready, Start, Stop
from liminal_tui.engine.pool import InProcessPool, ProcessPool
from liminal_tui.engine.run import Run
from liminal_tui.engine.worker import Worker, WorkerSpec
from liminal_tui.metrics.events import Event, EventKind
from runs import make_profile

pytestmark = pytest.mark.timeout(60)

POOLS = {
    "in-process": (InProcessPool, 1),
    "processes": (ProcessPool, 2),
}
POOL_NAMES = [pytest.param("in-process"), pytest.param("processes", marks=pytest.mark.slow),
              pytest.param("dask", marks=pytest.mark.slow)]


async def _pool(name: str, request: pytest.FixtureRequest, url: str):  # type: ignore[no-untyped-def]
    """(pool, workers): for "dask", a ClusterPool on the shared LocalCluster, one worker per host."""
    if name == "dask":
        from liminal_tui.cluster import parse_cluster
        from liminal_tui.cluster.pool import ClusterPool

        pool = ClusterPool(parse_cluster(request.getfixturevalue("dask_cluster").scheduler_address))
        return pool, await pool.connect(url)
    pool_type, workers = POOLS[name]
    return pool_type(), workers


def _get(path: str, users: int) -> str:
    return f"""
[load]
users = {users}
spawn_rate = 1000
[[scenarios]]
name = "get"
[[scenarios.steps]]
type = "http"
path = "{path}"
"""


@pytest.mark.parametrize("name", POOL_NAMES)
async def test_every_pool_counts_what_the_server_served(name, test_server, request):
    pool, workers = await _pool(name, request, test_server.url)
    path = "/delay/10"
    profile = make_profile(test_server.url, _get(path, users=4), duration="2s")
    run = Run(profile, workers=workers, tick=0.25, pool=pool)
    await run.start()
    final = await asyncio.wait_for(run.wait(), 30)
    ep = final.find("http", f"GET {path}")
    assert ep is not None and ep.count > 10 and ep.failures == 0
    assert ep.count == test_server.state.counts[path]
    assert str(final.stop_reason) == "completed"
    assert [h.worker for h in final.health] == list(range(workers))


@pytest.mark.parametrize("name", POOL_NAMES)
async def test_every_pool_speaks_the_messages_in_order(name, test_server, request):
    """Ready from each worker; after Start, reports numbered 1, 2, ... each starting where the last ended,
    the final one last, then Done. Stop is obeyed."""
    pool, workers = await _pool(name, request, test_server.url)
    events: list = []
    done = asyncio.Event()

    def emit(event) -> None:
        events.append(event)
        if sum(isinstance(e, Done) for e in events) == workers:
            done.set()

    profile = make_profile(test_server.url, _get("/ok", users=2), duration="30s")
    specs = [WorkerSpec(i, workers, profile, test_server.url, tick=0.2, grace=1.0) for i in range(workers)]
    await pool.start(specs, emit)
    assert sorted(e.worker for e in events if isinstance(e, Ready)) == list(range(workers))
    clock = RunClock.now()
    pool.send(Start(clock.start_ns))
    while clock.elapsed() < 0.7:
        await asyncio.sleep(0.05)
    pool.send(Stop(1.0))
    await asyncio.wait_for(done.wait(), 10)
    await pool.close(5.0)
    for worker in range(workers):
        mine = [e for e in events if getattr(e, "worker", None) == worker and not isinstance(e, Ready)]
        reports = [e for e in mine if isinstance(e, IntervalReport)]
        assert isinstance(mine[-1], Done) and reports[-1].final and not any(r.final for r in reports[:-1])
        assert [r.tick for r in reports] == list(range(1, len(reports) + 1)) and len(reports) >= 3
        assert reports[0].t_start == 0.0
        assert all(b.t_start == a.t_end for a, b in zip(reports, reports[1:]))
        # A tick's report is never early; it may be late by the loop's own lateness (0.15 s was seen
        # under a load average of 10, so the bound is wide: the order and numbering above are exact).
        assert all(r.tick * 0.2 - 0.01 <= r.t_end <= r.tick * 0.2 + 0.5 for r in reports[:-1]), reports
    assert not any(isinstance(e, (Failed, Lost)) for e in events)


@pytest.mark.slow
async def test_a_killed_worker_process_is_lost(test_server):
    pool = ProcessPool()
    lost = asyncio.Event()
    events: list = []

    def emit(event) -> None:
        events.append(event)
        if isinstance(event, Lost):
            lost.set()

    profile = make_profile(test_server.url, _get("/ok", users=1), duration="30s")
    await pool.start([WorkerSpec(0, 1, profile, test_server.url, tick=0.2)], emit)
    pool.send(Start(time.time_ns()))
    pool._procs[0].kill()
    await asyncio.wait_for(lost.wait(), 10)
    await pool.close(0.0)
    (event,) = [e for e in events if isinstance(e, Lost)]
    assert event.worker == 0 and event.crashed and event.reason == "exit code -9"


async def test_an_in_process_worker_that_crashes_is_reported(test_server, monkeypatch):
    async def crash(self) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Worker, "run", crash)
    run = Run(make_profile(test_server.url, _get("/ok", users=1), duration="5s"), workers=0, tick=0.2)
    await run.start()
    final = await asyncio.wait_for(run.wait(), 10)
    assert Event(EventKind.WORKER_FAILED, "worker 0 failed: RuntimeError: boom") in final.events


def test_run_clock_is_computed_locally_from_the_start_instant():
    clock = RunClock(time.time_ns() - 2_000_000_000)
    assert clock.elapsed() == pytest.approx(2.0, abs=0.05)
    assert clock.started_at == pytest.approx(time.time() - 2.0, abs=0.05)


async def test_users_add_up_across_workers_whatever_the_split(test_server):
    """3 users on 2 workers are 1 + 2 (each used to truncate its 1.5 to 1); 2 users on 3 workers, 0 + 1 + 1."""
    for users, workers in ((3, 2), (2, 3)):
        profile = make_profile(test_server.url, _get("/delay/20", users=users), duration="0.6s")
        run = Run(profile, workers=workers, tick=0.2, pool=InProcessPool())
        seen: list[int] = []
        run.bus.add_callback(lambda s: seen.append(s.users))
        await run.start()
        await asyncio.wait_for(run.wait(), 10)
        assert max(seen) == users, (users, workers, seen)
