"""WebSocket arrival from the kernel's stamps (``engine/clients/ws_arrival.py``): a message is timed from
when it reached this host, not from when a busy worker read it.

A real websockets server runs in a thread of its own (its own loop), so that it can send while the
engine's loop is held busy, as a garbage collection or a burst of deliveries holds a worker's; the real
engine's steps and connection read from it on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hdrh.histogram import HdrHistogram
from websockets.sync.server import ServerConnection, serve

from liminal_tui.engine.clients.ws import WsStats
from liminal_tui.engine.clients.ws_arrival import SO_TIMESTAMPNS, ArrivalBudget
from liminal_tui.engine.steps import Engine, User, compile_steps
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.profile.steps import WsConnect, WsSend, WsWait

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(SO_TIMESTAMPNS is None, reason="the kernel's receive stamps are Linux's (SO_TIMESTAMPNS)"),
]

BUSY_S = 0.08
"""How long the engine's loop is held busy while the server sends."""


def _stamping(ws: ServerConnection) -> None:
    """On "go": one message stamped with its send time (Unix ns). Pings are answered by the library, in
    this thread."""
    for text in ws:
        if text == "go":
            ws.send(json.dumps({"type": "stamped", "sent_ns": time.time_ns()}))


def _greeting(ws: ServerConnection) -> None:
    """A stamped greeting as soon as the connection is open (as the demo's ``hello``), then quiet."""
    ws.send(json.dumps({"type": "hello", "sent_ns": time.time_ns()}))
    for _ in ws:
        pass


@contextlib.contextmanager
def _serving(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        host, port = server.socket.getsockname()[:2]
        try:
            yield f"http://{host}:{port}"
        finally:
            server.shutdown()
            thread.join(5)


@pytest.fixture()
def threaded_server() -> Iterator[str]:
    with _serving(_stamping) as url:
        yield url


@pytest.fixture()
def greeting_server() -> Iterator[str]:
    with _serving(_greeting) as url:
        yield url


def _engine(url: str, budget: ArrivalBudget, stats: WsStats | None = None) -> tuple[Engine, Recorder]:
    recorder = Recorder()
    eng = Engine(None, recorder, url, stats or WsStats(), True, {})
    eng.ws_arrivals = budget
    return eng, recorder


STEPS = [
    WsConnect(type="ws_connect", path="/", name="ws"),
    WsSend(type="ws_send", text="go"),
    WsWait(type="ws_wait", name="stamped", match={"type": "stamped"}, since="previous", stamp="sent_ns",
           stamp_unit="ns", timeout=2),
]


async def _busy_round(url: str, budget: ArrivalBudget, stats: WsStats) -> tuple[int, int, float, int]:
    """Ask for a stamped message, hold the loop busy while it comes, then wait for it: its read and arrival
    (ns after the server's stamp, on the wall clock) and the delivery the wait recorded (us)."""
    eng, recorder = _engine(url, budget, stats)
    connect, send, wait = compile_steps(STEPS, eng)
    user = User(1, {})
    try:
        assert await connect.run(user)
        assert await send.run(user)
        time.sleep(BUSY_S)  # the worker busy (a collection, a burst): the message arrives meanwhile
        assert await wait.run(user)
        msg = user.ws.buffer[-1]
        offset = time.time_ns() - time.perf_counter_ns()
        sent = msg.json["sent_ns"]
        reader = user.ws._ws.reader
    finally:
        await user.close()
    (item,) = [e for e in recorder.drain() if e.name == "stamped"]
    delivery = HdrHistogram.decode(item.timings[3]).get_max_value()
    return msg.t_ns + offset - sent, msg.at_ns + offset - sent, delivery, reader is not None


async def test_a_message_is_timed_from_its_arrival_not_from_a_busy_workers_read(threaded_server: str) -> None:
    stats = WsStats()
    read_ns, arrival_ns, delivery_us, kernel_read = await _busy_round(threaded_server, ArrivalBudget(10), stats)
    assert kernel_read
    assert stats.messages_in == 1 and stats.messages_timed_at_read == 0
    assert read_ns >= BUSY_S * 1e9 * 0.9  # read only once the loop was free again
    assert 0 <= arrival_ns < 20_000_000, arrival_ns  # but it had arrived within a few ms of its stamp
    assert delivery_us * 1000 <= arrival_ns + 1_000_000  # and the delivery recorded is the arrival's (HDR precision)


async def test_without_the_budget_a_message_is_timed_at_its_read(threaded_server: str) -> None:
    """The fallback, as on a worker past its descriptor budget (or wss://, or not Linux): read by uvloop,
    timed when read."""
    stats = WsStats()
    read_ns, arrival_ns, delivery_us, kernel_read = await _busy_round(threaded_server, ArrivalBudget(0), stats)
    assert not kernel_read
    assert stats.messages_in == stats.messages_timed_at_read == 1  # counted, so the report can say so
    assert arrival_ns == read_ns >= BUSY_S * 1e9 * 0.9
    assert delivery_us * 1000 >= BUSY_S * 1e9 * 0.9


async def test_a_heartbeat_ends_at_its_pongs_arrival(threaded_server: str) -> None:
    """A ping sent just before the loop is held busy: its round trip is the pong's arrival, not the
    busy time."""
    eng, recorder = _engine(threaded_server, ArrivalBudget(10))
    (connect,) = compile_steps([WsConnect(type="ws_connect", path="/", name="ws", heartbeat=60)], eng)
    user = User(1, {})
    try:
        assert await connect.run(user)
        conn = user.ws
        conn.beat()  # the schedule's call, made now
        assert conn._ping is not None
        await asyncio.sleep(0)  # the ping's task sends
        time.sleep(BUSY_S)
        await conn._ping
    finally:
        await user.close()
    (item,) = [e for e in recorder.drain() if e.kind == "ws_ping"]
    assert item.count == 1
    assert HdrHistogram.decode(item.hist).get_max_value() < 20_000  # us: not the 80 ms the loop was busy


async def test_the_budget_is_taken_per_connection_and_given_back_when_it_closes(threaded_server: str) -> None:
    budget = ArrivalBudget(1)
    eng, _ = _engine(threaded_server, budget)
    (connect,) = compile_steps([WsConnect(type="ws_connect", path="/", name="ws")], eng)
    first, second = User(1, {}), User(2, {})
    try:
        assert await connect.run(first) and await connect.run(second)
        assert first.ws._ws.reader is not None and second.ws._ws.reader is None  # one left, then none
        assert budget.left == 0
        await first.close()
        assert budget.left == 1
    finally:
        await first.close()
        await second.close()


async def test_a_greeting_that_comes_with_the_handshake_is_timed_from_its_arrival(greeting_server: str) -> None:
    """The stamped reads begin with the handshake's: a message the server sends as soon as it has opened
    the connection, often in the same read as the response, is stamped as every later one is."""
    stats = WsStats()
    eng, _ = _engine(greeting_server, ArrivalBudget(10), stats)
    (connect,) = compile_steps([WsConnect(type="ws_connect", path="/", name="ws")], eng)
    user = User(1, {})
    try:
        assert await connect.run(user)
        if not user.ws.buffer:  # the greeting is sent just after the response: wait for its delivery
            woken = asyncio.get_running_loop().create_future()
            user.ws.waiters.append(woken)
            await asyncio.wait_for(woken, 2)
        assert user.ws._ws.reader is not None
        (msg,) = user.ws.buffer
        assert msg.json["type"] == "hello"
        assert stats.messages_in == 1 and stats.messages_timed_at_read == 0
        offset = time.time_ns() - time.perf_counter_ns()
        assert 0 <= msg.at_ns + offset - msg.json["sent_ns"] < 20_000_000  # its arrival, within a few ms
    finally:
        await user.close()


def test_a_budget_keeps_the_kernels_stamping_on_while_it_lives() -> None:
    """Linux turns packet stamping on and off from a work queue, after the call: a socket that asks just
    as the last one asking closed can get its first packets unstamped (2,013 of 3,000 first reads with
    both cores busy). A budget holds one socket asking for as long as the worker's engine lives."""
    budget = ArrivalBudget(10)
    keeper = budget._keeper
    assert keeper is not None and keeper.getsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS) == 1
    del budget
    assert keeper.fileno() == -1  # closed with it, not left to the collector
    assert ArrivalBudget(0)._keeper is None  # no reader may start: nothing to keep on
