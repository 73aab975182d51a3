"""What holding many WebSockets relies on: per-tick bookkeeping that does not grow with the users,
the garbage collector kept off long-lived connections, and the proxy looked up once per origin.

(The figures themselves, 10,000 and 30,000 connections, are bench/websockets_10k.py's.)
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from liminal_tui.engine.clients.ws import proxy_for
from liminal_tui.engine.gcfreeze import GcFreezer
from liminal_tui.engine.load import ClosedLoad, LoadShape
from liminal_tui.engine.steps import User
from liminal_tui.profile.models import LoadModel

pytestmark = pytest.mark.timeout(30)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_closed_load_starts_retires_the_newest_and_replaces_users_that_ended() -> None:
    shape = LoadShape(LoadModel(users=10, spawn_rate=1000), 1.0)
    shape.set(10, 0.0)
    shape.spawn_rate = 0.0  # live changes apply at once
    release: dict[int, asyncio.Event] = {}
    crash_once = {3}

    async def iteration(user: User) -> None:
        number = user.vars["user"]
        if number in crash_once:
            crash_once.discard(number)
            raise RuntimeError("an iteration that fails in a way no step records")
        user.holding = True  # like ws_hold: retiring this user cancels it
        try:
            await release.setdefault(number, asyncio.Event()).wait()
        finally:
            user.holding = False

    load = ClosedLoad(shape, iteration, lambda n: User(n, {}), (0.0, 0.0), first_user=1)
    load.adjust(0.0)
    assert load.active == 10
    await asyncio.sleep(0)  # user 3's iteration raises, its task ends
    await asyncio.sleep(0)
    assert load.active == 9
    load.adjust(0.05)  # ... and a new user takes its place
    assert load.active == 10
    assert sorted(u.vars["user"] for u in load._running) == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11]
    await asyncio.sleep(0)

    shape.set(4, 0.1)
    load.adjust(0.1)  # retire 6: the newest, cancelled out of their hold
    assert sorted(u.vars["user"] for u in load._running) == [1, 2, 4, 5]
    retired = [u for u in load._tasks if u.stopping]
    assert sorted(u.vars["user"] for u in retired) == [6, 7, 8, 9, 10, 11]
    await asyncio.sleep(0.05)
    assert load.active == 4
    load.adjust(0.15)  # nothing to do: nothing started, nothing retired
    assert load.active == 4

    load.stop()
    await asyncio.wait(load.tasks(), timeout=5)
    assert load.active == 0 and load.tasks() == []


def test_gc_freezer_freezes_survivors_as_connections_grow_and_unfreezes_when_users_leave() -> None:
    gc.unfreeze()
    threshold = gc.get_threshold()
    try:
        freezer = GcFreezer()
        freezer.tick(0.5, users=0, target=10, ws_open=0)  # nothing open, not ramped up: nothing
        assert gc.get_freeze_count() == 0 and freezer.freezes == 0

        garbage = _Cycle()
        dead = weakref.ref(garbage)
        del garbage
        alive = _Cycle()
        freezer.tick(0.5, users=5, target=10, ws_open=5)  # more WebSockets than ever: collect, then freeze
        assert dead() is None, "garbage made before a freeze must be collected, not frozen"
        assert freezer.frozen and freezer.freezes == 1
        assert freezer.growing and not gc.isenabled(), "while connections open, the tick's collection is the only one"
        assert gc.get_threshold()[0] >= 10_000, "young collections less often once frozen"
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert not any(o is alive for o in gc.get_objects()), "a survivor is in the permanent generation"

        freezer.tick(1.5, users=10, target=10, ws_open=10)
        assert freezer.freezes == 2
        freezer.tick(2.5, users=10, target=10, ws_open=10)  # the hold: nothing new is frozen
        assert not freezer.growing and gc.isenabled(), "the hold: the collector is back for short-lived objects"
        freezer.tick(3.5, users=10, target=10, ws_open=9)  # a drop (and its reconnect) is no reason either
        assert freezer.freezes == 2 and freezer.frozen

        freezer.tick(4.5, users=4, target=4, ws_open=10)  # users retired: everything back to the collector
        assert not freezer.frozen and gc.get_freeze_count() == 0
        freezer.tick(5.5, users=4, target=4, ws_open=4)  # and not frozen again until connections grow
        assert not freezer.frozen and gc.get_freeze_count() == 0
        freezer.tick(6.5, users=6, target=6, ws_open=6)
        assert freezer.frozen and freezer.freezes == 3
    finally:
        gc.unfreeze()
        gc.enable()
        gc.set_threshold(*threshold)


def test_gc_freezer_freezes_once_ramped_up_without_websockets() -> None:
    gc.unfreeze()
    threshold = gc.get_threshold()
    try:
        freezer = GcFreezer()
        freezer.tick(0.5, users=10, target=10, ws_open=0)  # too early in the run
        assert freezer.freezes == 0
        freezer.tick(1.0, users=10, target=10, ws_open=0)
        freezer.tick(2.0, users=10, target=10, ws_open=0)
        assert freezer.freezes == 1 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
        gc.set_threshold(*threshold)


def test_proxy_is_looked_up_once_per_url_and_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("no_proxy", "NO_PROXY", "ws_proxy", "WS_PROXY", "all_proxy", "ALL_PROXY", "socks_proxy",
                "SOCKS_PROXY", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    cache: dict = {}
    assert proxy_for("ws://target.invalid:8080/ws", cache) == "http://127.0.0.1:9"
    monkeypatch.delenv("http_proxy")
    assert proxy_for("ws://target.invalid:8080/ws", cache) == "http://127.0.0.1:9", "looked up again"
    assert proxy_for("ws://target.invalid:8080/ws", {}) is None, "a new run looks again"
    assert proxy_for("ws://other.invalid:8080/ws", cache) is None


HOLD = """
[load]
users = 40
spawn_rate = 1000

[[scenarios]]
name = "hold"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws/echo"
name = "ws"
heartbeat = "0.2s"
[[scenarios.steps]]
type = "ws_hold"
duration = "10s"
"""


async def test_held_connections_share_one_heartbeat_schedule(test_server) -> None:  # type: ignore[no-untyped-def]
    """40 held connections with 0.2-s heartbeats: every one pings on time, and no task sleeps per connection
    between pings (a user's loop and its reader are all there is; a ping's task lives for one round trip)."""
    from runs import make_profile, run_to_end

    counts: list[int] = []
    kinds: set[str] = set()

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.01)
            mine = [t.get_coro().__qualname__ for t in asyncio.all_tasks()]
            mine = [name for name in mine if name.startswith("WsConnection.")]
            kinds.update(mine)
            counts.append(len(mine))

    watcher = asyncio.ensure_future(watch())
    try:
        _, final = await run_to_end(make_profile(test_server.url, HOLD, duration="1.6s"), tick=0.2)
    finally:
        watcher.cancel()
    ping = final.find("ws_ping", "ws")
    assert final.ws.connects == 40 and final.ws.drops == 0
    # 1.6 s, the first ping 0.2 s after each connect: 6-7 rounds per connection (a round is one RTT longer)
    assert 40 * 5 <= ping.count <= 40 * 8 and ping.failures == 0
    # the connections' tasks: 40 watches (which wait for the close, not for messages), and pings only while in flight (between rounds, none); a task per
    # connection sleeping between pings would never let the count fall to 40
    # (a ping's task lives for one loopback round trip: a 10-ms sample may or may not catch one)
    assert "WsConnection._watch" in kinds and kinds <= {"WsConnection._watch", "WsConnection._ping_once"}
    held = [n for n in counts if n >= 40]
    assert held and min(held) == 40 and max(held) <= 80


async def test_heartbeats_due_together_start_in_batches() -> None:
    """1,000 connections opened in one burst come due in one burst: their pings start 50 at a time, one
    batch per pass of the event loop, so other callbacks (pongs, timers) run in between."""
    from liminal_tui.engine.clients.heartbeats import PING_BATCH, Heartbeats

    loop = asyncio.get_running_loop()
    passes = [0]
    beats: list[int] = []  # the loop pass each beat happened in

    class Due:
        def beat(self) -> None:
            beats.append(passes[0])

    def count_passes() -> None:
        passes[0] += 1
        if len(beats) < 1000:
            loop.call_soon(count_passes)

    schedule = Heartbeats(0.05)
    for _ in range(1000):
        schedule.join()
        schedule.add(Due())  # type: ignore[arg-type]
    await asyncio.sleep(0.04)
    loop.call_soon(count_passes)
    async with asyncio.timeout(5):
        while len(beats) < 1000:
            await asyncio.sleep(0.01)
    per_pass = [beats.count(p) for p in sorted(set(beats))]
    # at most a batch a pass, every ping started (a connection coming due a moment later may make one more pass)
    assert max(per_pass) == PING_BATCH and sum(per_pass) == 1000
    for _ in range(1000):
        schedule.leave()
    assert schedule._timer is None  # nobody left: no timer left behind


def test_a_wait_takes_the_oldest_matching_message_since_its_start_looking_only_at_newer_ones() -> None:
    from collections import deque

    from liminal_tui.engine.clients.ws import WsMessage
    from liminal_tui.engine.ws_steps import _first_match

    buffer = deque((WsMessage(t, t, f"m{t}") for t in range(1, 513)), maxlen=512)
    looked: list[int] = []

    def matches(msg: WsMessage) -> bool:  # called as matches(msg, *args)
        looked.append(msg.t_ns)
        return msg.t_ns % 2 == 0

    assert _first_match(buffer, 509, matches).t_ns == 510
    assert looked == [509, 510], "only messages since the start are looked at, oldest first"
    assert _first_match(buffer, 512, matches).t_ns == 512
    assert _first_match(buffer, 513, matches) is None
    assert _first_match(deque(), 0, matches) is None
