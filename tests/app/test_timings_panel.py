"""The dashboard shows the whole run's time to first byte when connection timings are kept, and the delivery of
messages with a send stamp."""

from __future__ import annotations

from fakes import plain
from textual.app import App, ComposeResult

from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.metrics.snapshot import IntervalReport, Snapshot, WorkerHealth
from liminal_tui.widgets import ConnectionCounters, PercentilePanel
from liminal_tui.widgets.units import ms

MS = 1_000_000


def _snapshot(timings: bool) -> Snapshot:
    rec = Recorder(timings=timings)
    ep = rec.endpoint("http", "GET /x", "GET")
    for i in range(100):
        ep.success((20 + i) * MS, nbytes=10, status=200)
        if timings:
            ep.timed((7 + i // 10) * MS, 1 * MS if i == 0 else -1, -1)
    agg = Aggregator("t", "http://127.0.0.1:1", "closed", 1.0)
    agg.add(IntervalReport(worker=0, tick=1, t_start=0.0, t_end=1.0, endpoints=rec.drain(), users=1, target=1.0, iterations=100,
                           dropped=0, http_connections=1, ws_open=0, ws_connects=0, ws_reconnects=0, ws_drops=0,
                           ws_messages_in=0, ws_messages_out=0, health=WorkerHealth(0, 10.0, 1.0, 1.0, 50.0)))
    return agg.snapshot("finished", 1.0, final=True)


class Panel(App[None]):
    def compose(self) -> ComposeResult:
        yield PercentilePanel()


async def test_first_byte_column_only_with_timings() -> None:
    app = Panel()
    async with app.run_test(size=(80, 12)) as pilot:
        panel = app.query_one(PercentilePanel)
        with_timings = _snapshot(True)
        panel.update_snapshot(with_timings)
        await pilot.pause()
        text = plain(panel.content)
        ttfb = with_timings.find("http").ttfb
        assert "1st byte" in text and ms(ttfb.p50) in text and ms(ttfb.max) in text
        panel.update_snapshot(_snapshot(False))
        await pilot.pause()
        assert "1st byte" not in plain(panel.content)


def _ws_snapshot(stamped: bool, at_read: int = 0) -> Snapshot:
    rec = Recorder()
    ep = rec.endpoint("ws_message", "broadcast", "WSMSG")
    for i in range(50):
        ep.success((30 + i) * MS, nbytes=10)
        if stamped:
            ep.delivered((3 + i // 5) * MS)
    agg = Aggregator("t", "http://127.0.0.1:1", "closed", 1.0)
    agg.add(IntervalReport(worker=0, tick=1, t_start=0.0, t_end=1.0, endpoints=rec.drain(), users=1, target=1.0, iterations=50,
                           dropped=0, http_connections=0, ws_open=1, ws_connects=1, ws_reconnects=0, ws_drops=0,
                           ws_messages_in=50, ws_messages_out=0, health=WorkerHealth(0, 10.0, 1.0, 1.0, 50.0),
                           ws_messages_timed_at_read=at_read))
    return agg.snapshot("finished", 1.0, final=True)


class Counters(App[None]):
    def compose(self) -> ComposeResult:
        yield ConnectionCounters()


async def test_delivery_row_only_for_stamped_messages() -> None:
    app = Counters()
    async with app.run_test(size=(80, 16)) as pilot:
        panel = app.query_one(ConnectionCounters)
        stamped = _ws_snapshot(True)
        panel.update_snapshot(stamped)
        await pilot.pause()
        text = plain(panel.content)
        d = stamped.find("ws_message").delivery
        assert "delivery (stamp)" in text and f"p50 {ms(d.p50)}" in text and f"p99 {ms(d.p99)}" in text
        panel.update_snapshot(_ws_snapshot(False))
        await pilot.pause()
        assert "delivery (stamp)" not in plain(panel.content)


async def test_messages_timed_at_the_read_are_shown_beside_messages_in() -> None:
    """A message with no arrival stamp (wss://, Socket.IO, ...) is counted where the messages are."""
    app = Counters()
    async with app.run_test(size=(80, 16)) as pilot:
        panel = app.query_one(ConnectionCounters)
        panel.update_snapshot(_ws_snapshot(False, at_read=12))
        await pilot.pause()
        assert "12 timed at read" in plain(panel.content)
        panel.update_snapshot(_ws_snapshot(False))
        await pilot.pause()
        assert "timed at read" not in plain(panel.content)  # none: nothing said
