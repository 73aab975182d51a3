"""How a WebSocket message reaches a ``ws_wait``: taken from websockets as it is parsed (no reader task),
stamped with its arrival, kept in the connection's buffer, and the pending waits woken.

Against tests/servers.py: every message the server sends is counted once, whether a wait was pending or
not; a message that arrived before the wait began is found with ``since = "previous"`` and timed from
its arrival; fragmented messages are assembled; a text frame that is not UTF-8 is a named failure.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from hdrh.histogram import HdrHistogram

from liminal_tui.engine.clients.ws import WsStats
from liminal_tui.engine.steps import Engine, User, compile_steps
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.profile.steps import WsConnect, WsSend, WsWait
from runs import make_profile, run_to_end

pytestmark = pytest.mark.timeout(60)

BURST = """
[load]
users = 3
spawn_rate = 1000

[[scenarios]]
name = "burst"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws/burst/200"
name = "ws"
[[scenarios.steps]]
type = "ws_wait"
name = "fragmented"
contains = "frag-ment"
since = "previous"
timeout = "2s"
[[scenarios.steps]]
type = "ws_send"
text = "after ${user}"
[[scenarios.steps]]
type = "ws_wait"
name = "echo"
contains = "after ${user}"
timeout = "2s"
[[scenarios.steps]]
type = "ws_hold"
duration = "30s"
"""


async def test_every_message_is_counted_once_waited_for_or_not(test_server) -> None:  # type: ignore[no-untyped-def]
    """200 messages and a fragmented one arrive with no wait pending, an echo with one pending: the
    count is exactly what the server sent, and the waits find theirs."""
    _, final = await run_to_end(make_profile(test_server.url, BURST, duration="1s"), tick=0.1)
    fragmented, echo = final.find("ws_message", "fragmented"), final.find("ws_message", "echo")
    assert fragmented.count == 3 and fragmented.failures == 0  # assembled from its two frames
    assert echo.count == 3 and echo.failures == 0
    sent = test_server.state.ws_sent["/ws/burst/200"]
    assert sent == 3 * 202
    assert final.ws.messages_in == sent  # none lost, none counted twice
    assert final.ws.drops == 0 and not final.errors


SINCE_PREVIOUS = """
[load]
users = 2
spawn_rate = 1000

[[scenarios]]
name = "late wait"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws/echo"
name = "ws"
[[scenarios.steps]]
type = "ws_send"
text = "hello ${user} ${iteration}"
[[scenarios.steps]]
type = "pause"
duration = "150ms"
[[scenarios.steps]]
type = "ws_wait"
name = "echo"
contains = "hello ${user} ${iteration}"
since = "previous"
timeout = "1s"
"""


async def test_a_wait_finds_a_message_that_arrived_before_it_timed_from_the_arrival(test_server) -> None:  # type: ignore[no-untyped-def]
    """The echo arrives during the pause, before the wait begins: ``since = "previous"`` finds it, and
    its latency is send -> arrival (well under the 150-ms pause), not send -> the wait's look."""
    _, final = await run_to_end(make_profile(test_server.url, SINCE_PREVIOUS, duration="1.2s"), tick=0.1)
    echo = final.find("ws_message", "echo")
    assert echo.count >= 8 and echo.failures == 0
    assert echo.latency.max < 100, "timed from the message's arrival, not from the wait"
    assert final.ws.messages_in >= echo.count


async def test_a_text_frame_that_is_not_utf8_is_a_named_failure_and_a_reconnect(test_server) -> None:  # type: ignore[no-untyped-def]
    body = """
[load]
users = 1
spawn_rate = 1000

[[scenarios]]
name = "bad text"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws/not-utf8"
name = "ws"
backoff_max = "0.2s"
[[scenarios.steps]]
type = "ws_hold"
duration = "30s"
"""
    _, final = await run_to_end(make_profile(test_server.url, body, duration="1s"), tick=0.1)
    connect = final.find("ws_connect", "ws")
    assert connect.failures >= 2 and final.ws.drops == connect.failures  # each one closes (1007), reconnects
    assert final.ws.messages_in == 0  # not delivered as text
    assert {(e.error, e.message.split(":")[0]) for e in final.errors} == {("ws read error", "a text message that is not UTF-8")}
    assert final.ws.reconnects >= 1


async def test_two_waits_on_one_connection_are_both_woken_and_a_timed_out_wait_leaves_nothing(test_server) -> None:  # type: ignore[no-untyped-def]
    """A reconnect's ``on_connect`` wait can be pending beside the user's own: a message wakes every
    pending wait; a wait that timed out (or was cancelled) leaves no future behind on the connection."""
    recorder = Recorder()
    eng = Engine(None, recorder, test_server.url, WsStats(), True, {})
    connect, wait_a, wait_b, send_b, send_a, never = compile_steps([
        WsConnect(type="ws_connect", path="/ws/echo", name="ws"),
        WsWait(type="ws_wait", name="a", contains="a", timeout=2),
        WsWait(type="ws_wait", name="b", contains="b", timeout=2),
        WsSend(type="ws_send", text="b"),
        WsSend(type="ws_send", text="a"),
        WsWait(type="ws_wait", name="never", contains="never", timeout=0.1),
    ], eng)
    user = User(1, {})
    try:
        assert await connect.run(user)
        conn = user.ws
        assert conn is not None
        waits = [asyncio.ensure_future(wait_a.run(user)), asyncio.ensure_future(wait_b.run(user))]
        async with asyncio.timeout(2):
            while len(conn.waiters) < 2:  # both pending on the connection
                await asyncio.sleep(0.001)
        assert await send_b.run(user) and await send_a.run(user)
        assert await asyncio.gather(*waits) == [True, True]
        assert not conn.waiters
        assert not await never.run(user)  # timed out
        assert not conn.waiters
        cancelled = asyncio.ensure_future(never.run(user))
        async with asyncio.timeout(2):
            while not conn.waiters:
                await asyncio.sleep(0.001)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert not conn.waiters
        assert conn.stats.messages_in == 2
    finally:
        await user.close()
    counts = {(e.kind, e.name): (e.count, e.failures) for e in recorder.drain()}
    assert counts[("ws_message", "a")] == (1, 0) and counts[("ws_message", "b")] == (1, 0)
    assert counts[("ws_message", "never")] == (0, 1)


async def test_wait_timeouts_come_from_one_sweep_and_leave_nothing_behind(test_server) -> None:  # type: ignore[no-untyped-def]
    """No timer per wait: 20 waits that nothing answers all time out, each timed from its own start for at
    least its timeout and at most a few sweeps more; then the sweep drops their slots and stops."""
    recorder = Recorder()
    eng = Engine(None, recorder, test_server.url, WsStats(), True, {})
    connect, never = compile_steps([
        WsConnect(type="ws_connect", path="/ws/echo", name="ws"),
        WsWait(type="ws_wait", name="never", contains="never", timeout=0.2),
    ], eng)
    user = User(1, {})
    try:
        assert await connect.run(user)
        started = time.perf_counter()
        assert await asyncio.gather(*(never.run(user) for _ in range(20))) == [False] * 20
        assert time.perf_counter() - started >= 0.2
        assert not user.ws.waiters
        async with asyncio.timeout(2):
            while eng.wait_deadlines.pending() or eng.wait_deadlines.sweeping:
                await asyncio.sleep(0.01)
    finally:
        await user.close()
    (item,) = [e for e in recorder.drain() if e.name == "never"]
    assert (item.count, item.failures) == (0, 20)
    failed = HdrHistogram.decode(item.failed_hist)
    assert failed.get_min_value() >= 200_000 - 1_000  # us: none before its timeout (HDR precision)
    assert failed.get_max_value() <= 500_000  # noticed within a sweep (10 ms here), a loaded loop's lag allowed


async def test_sends_beyond_the_write_buffer_wait_for_it_and_arrive_in_order(test_server) -> None:  # type: ignore[no-untyped-def]
    """A ``ws_send`` goes straight to the socket, no coroutine, while the write buffer is under its limit
    (the iteration loop calls its ``now()``); past it (12.8 MB sent without a pause, more than the
    kernel's buffers hold), it hands back a coroutine that waits for the buffer to drain. Every message is
    echoed, whole and in order."""
    recorder = Recorder()
    eng = Engine(None, recorder, test_server.url, WsStats(), True, {})
    connect, send = compile_steps([WsConnect(type="ws_connect", path="/ws/burst/0", name="ws"),
                                   WsSend(type="ws_send", text="${n}" + "x" * 65_533)], eng)
    user = User(1, {})
    try:
        assert await connect.run(user)
        conn = user.ws
        assert conn is not None
        waited = 0
        texts = [f"{i:03d}" + "x" * 65_533 for i in range(200)]
        for i in range(200):
            user.vars["n"] = f"{i:03d}"
            sent = send.now(user)
            if sent is not True:
                assert sent is not False
                waited += 1
                assert await sent is True
        async with asyncio.timeout(20):
            while conn.stats.messages_in < 201:  # the fragmented "frag-ment", then the 200 echoes
                await asyncio.sleep(0.01)
        assert 0 < waited < 200, "some sends went straight out, some waited for the buffer"
        assert [m.text for m in list(conn.buffer)[1:]] == texts
        assert conn.stats.messages_out == 200
    finally:
        await user.close()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_the_steps_text_frame_is_the_one_websockets_reads(size: int) -> None:
    """``ws_send``'s own frame (``text_frame``) parses, as a server reads a client's frame, into the same
    final text frame websockets would have sent, at each length encoding (7-bit, 16-bit, 64-bit); and the
    masking key differs from one frame to the next."""
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    from liminal_tui.engine.clients.ws_delivery import text_frame

    payload = ("é" * size).encode()[:size] if size else b""

    def parse(data: bytes) -> Frame:
        reader = StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        gen = Frame.parse(reader.read_exact, mask=True, max_size=None)
        with pytest.raises(StopIteration) as done:
            next(gen)
        return done.value.value

    ours = text_frame(payload)
    frame = parse(ours)
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)
    theirs = Frame(Opcode.TEXT, payload).serialize(mask=True)
    assert len(ours) == len(theirs)
    head = len(ours) - len(payload) - 4  # everything before the key
    assert ours[:head] == theirs[:head]
    keys = {text_frame(b"x")[2:6] for _ in range(64)}
    assert len(keys) > 60  # drawn at random, not repeated
