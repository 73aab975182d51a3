"""The generator's own saturation: said in the snapshot (the tick) that shows it, and never for a worker's
stop, whichever snapshot its last report lands in.

A worker's last report covers its stop (cancelling its users, closing every connection: ~0.5-1 s of
loop lag for 5,000 WebSockets). It can reach the run before the run's last snapshot, when the worker is
done before the run's next tick; it used to count then as a saturated second of the load, a coin toss
that failed ``bench/websockets_10k.py`` 3 runs of 7 with "saturated at 0:49", the run's last second.
"""

from __future__ import annotations

import asyncio
import time

from liminal_tui.engine.run import Run
from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.events import EventKind
from liminal_tui.metrics.snapshot import IntervalReport, WorkerHealth
from liminal_tui.report.timeline import Health
from runs import make_profile

GET = """
[load]
users = 2
spawn_rate = 1000
[[scenarios]]
name = "get"
[[scenarios.steps]]
type = "http"
path = "/delay/10"
"""

BLOCK_S = 0.2
"""How long the test holds the (shared) event loop: four times the lag that is saturation."""


async def test_a_held_loop_is_said_saturated_at_the_tick_that_shows_it(test_server) -> None:
    """An in-process worker shares this test's loop: holding it shows as lag in that tick's health, and
    the snapshot that shows it carries the event (it used to go with the next one, a tick late)."""
    run = Run(make_profile(test_server.url, GET, duration="2s"), workers=0, tick=0.25)
    sub = run.bus.subscribe("every")
    await run.start()
    snaps = []
    held = False
    async with asyncio.timeout(15):
        async for snap in sub:
            snaps.append(snap)
            if not held and snap.find("http") is not None:
                time.sleep(BLOCK_S)  # the worker's loop is held, as a collection or a burst would hold it
                held = True
            if snap.final:
                break
    await run.wait()
    live = [s for s in snaps if not s.final]
    assert any(s.saturated for s in live)  # the hold was seen
    for snap in live:
        said = any(e.kind is EventKind.SATURATED for e in snap.events)
        assert said == snap.saturated, (snap.elapsed, snap.health, snap.events)
    assert snaps[-1].health and all(h.stopping for h in snaps[-1].health)  # the workers' last reports
    assert all(s.elapsed >= 2.0 for s in live if any(h.stopping for h in s.health))  # only after the load


def _report(tick: int, lag_ms: float, final: bool) -> IntervalReport:
    return IntervalReport(worker=0, tick=tick, t_start=tick - 1.0, t_end=float(tick), endpoints=(), users=0 if final else 5,
                          target=0.0 if final else 5.0, iterations=1, dropped=0, http_connections=0, ws_open=0,
                          ws_connects=0, ws_reconnects=0, ws_drops=0, ws_messages_in=0, ws_messages_out=0,
                          health=WorkerHealth(0, 10.0, lag_ms, lag_ms, 80.0, stopping=final), final=final)


def test_a_workers_stop_is_not_saturation_even_before_the_last_snapshot() -> None:
    """The worker's last report (its stop: 800 ms of lag) lands in a tick's snapshot, not the final one."""
    agg, health = Aggregator("p", "http://127.0.0.1:1", "closed", 3.0), Health()
    agg.add(_report(1, 2.0, final=False))
    health.add(agg.snapshot("steady", 1.0, upto_tick=1))
    agg.add(_report(2, 800.0, final=True))
    snap = agg.snapshot("steady", 2.0, upto_tick=2)
    assert snap.health[0].loop_lag_ms == 800.0 and snap.health[0].stopping  # shown as what it is
    assert not snap.saturated
    health.add(snap)
    assert health.saturated_ticks == 0 and health.warning is None
    assert health.workers[0].loop_lag_ms == 2.0  # the load's worst, not the stop's

    control = Aggregator("p", "http://127.0.0.1:1", "closed", 3.0)  # the same lag during the load is saturation
    control.add(_report(1, 800.0, final=False))
    assert control.snapshot("steady", 1.0, upto_tick=1).saturated
