"""Fixed, realistic snapshots built with the real Recorder and Aggregator, and a run that replays them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from rich.console import Console


from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.judge import judge
from liminal_tui.metrics.bus import MetricsBus
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.metrics.snapshot import IntervalReport, Snapshot, WorkerHealth
from liminal_tui.live import Outcome
from liminal_tui.metrics.events import Event, EventKind, StopCause, StopReason
from liminal_tui.profile import load_profile, shipped_profiles

ENDPOINTS = (
    ("http", "POST /api/memories", "POST", 40, 12.0),
    ("http", "GET /api/memories/{id}", "GET", 60, 4.0),
    ("http", "GET /api/memories", "GET", 50, 9.0),
    ("http", "PATCH /api/memories/{id}", "PATCH", 20, 15.0),
    ("ws_connect", "WS /ws", "", 2, 3.0),
    ("ws_ping", "WS /ws", "", 10, 0.8),
    ("ws_message", "broadcast memory.updated", "", 20, 6.0),
)
"""(kind, name, method, samples per tick, base latency ms)."""


def _report(tick: int, open_model: bool, saturated: bool, users: int, target: float) -> IntervalReport:
    rec = Recorder(open_model=open_model)
    for kind, name, method, n, base in ENDPOINTS:
        ep = rec.endpoint(kind, name, method)
        for i in range(n):
            latency_ms = base * (0.5 + (i * 7919 % 100) / 100.0) + (tick % 3)
            if i % 97 == 5:
                latency_ms *= 20  # a slow outlier
            service = int(latency_ms * 0.8 * 1e6) if open_model and kind == "http" else -1
            ep.success(int(latency_ms * 1e6), nbytes=512, status=200 if kind == "http" else 0, service_ns=service)
        if kind == "http" and method == "PATCH" and tick % 2 == 0:
            ep.failure(int(30e6), "HTTP 503", "Service Unavailable", status=503)
        if kind == "http" and method == "GET" and tick == 3:
            ep.failure(int(5000e6), "timeout", "read timed out after 5s")
    health = WorkerHealth(0, 97.0 if saturated else 34.0, 62.0 if saturated else 2.5, 1.2, 88.0)
    return IntervalReport(
        worker=0, tick=tick, t_start=float(tick - 1), t_end=float(tick), endpoints=rec.drain(), users=users, target=target,
        iterations=40, dropped=3 if open_model else 0, http_connections=users, ws_open=users // 4,
        ws_connects=2, ws_reconnects=1 if tick == 4 else 0, ws_drops=1 if tick == 4 else 0,
        ws_messages_in=30, ws_messages_out=10, health=health,
    )


def build_snapshots(ticks: int = 6, model: str = "closed", saturated_at: int | None = None,
                    duration: float = 60.0, final: bool = True) -> list[Snapshot]:
    """``ticks`` one-second snapshots of profile "smoke" (the last one final when ``final``)."""
    agg = Aggregator("smoke", "http://127.0.0.1:8080", model, duration)
    out = []
    for tick in range(1, ticks + 1):
        users = min(10, tick * 2)
        agg.add(_report(tick, model == "open", tick == saturated_at, users, 10.0))
        phase = "ramping" if users < 10 else "steady"
        is_final = final and tick == ticks
        events = (Event(EventKind.WORKER_SILENT, "ws reconnects: 1"),) if tick == 4 else ()  # any non-phase event
        out.append(agg.snapshot("finished" if is_final else phase, float(tick), events=events, final=is_final,
                                stop_reason=StopReason(StopCause.COMPLETED) if is_final else None))
    return out


class FakeRun:
    """A :class:`~liminal_tui.live.LiveRun` stand-in: the test publishes snapshots; stop/abort publish the
    final one; ``finish`` judges the shipped smoke profile's thresholds (the snapshots' profile)."""

    def __init__(self, snapshots: list[Snapshot], report_dir: Path | None = None, fail: str | None = None) -> None:
        self.bus = MetricsBus()
        self.snapshots = snapshots
        self.report_dir = report_dir
        self.target_url = "http://127.0.0.1:8080"
        self.in_process = True
        self.fail = fail
        self.loads: list[float] = []
        self.started = asyncio.Event()
        self.stopped = False
        self.aborted = False
        self._done = asyncio.Event()

    def prepare(self) -> None:
        pass

    async def start(self) -> None:
        if self.fail:
            raise RuntimeError(self.fail)
        self.started.set()

    def publish(self, index: int) -> None:
        snap = self.snapshots[index]
        self.bus.publish(snap)
        if snap.final:
            self._done.set()

    def publish_all(self) -> None:
        for i in range(len(self.snapshots)):
            self.publish(i)

    def set_load(self, value: float) -> None:
        self.loads.append(value)

    async def stop(self, reason: StopReason | None = None) -> None:
        self.stopped = True
        self._end(reason or StopReason(StopCause.STOPPED))

    def abort(self, reason: StopReason | None = None) -> None:
        self.aborted = True
        self._end(reason or StopReason(StopCause.ABORTED))

    def _end(self, reason: StopReason) -> None:
        """The final snapshot, with ``reason`` as the engine gives it (unless the run had already ended)."""
        if not self._done.is_set():
            self.snapshots[-1] = replace(self.snapshots[-1], stop_reason=reason)
        self.publish(len(self.snapshots) - 1)

    async def finish(self) -> Outcome:
        await self._done.wait()
        final = self.snapshots[-1]
        rules = load_profile(shipped_profiles()["smoke"]).thresholds.parsed()
        return Outcome(final, judge(rules, final), self.report_dir)


async def until(pilot, condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Let the app work until ``condition()`` holds (bounded): a wait on a state, not a fixed sleep."""
    async def poll() -> None:
        while not condition():
            await pilot.pause(0.02)

    await asyncio.wait_for(poll(), timeout)


def plain(renderable, width: int = 120) -> str:
    """A widget's content (Rich renderable or Textual content) as plain text."""
    with open("/dev/null", "w") as sink:
        console = Console(width=width, record=True, color_system=None, file=sink)
        console.print(renderable)
        return console.export_text()
