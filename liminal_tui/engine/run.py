"""One run of a profile: the object every front end (CLI, headless printer, app, tests) drives.

    run = Run(profile, workers=1)          # workers=0: the engine runs in this process (tests)
    sub = run.bus.subscribe("latest")      # or "every"; readers subscribe before start
    await run.start(url)                   # workers Ready, then the clock starts (WorkerStartError)
    run.set_load(50)                       # users (closed) or iterations/s (open), while running
    await run.stop()                       # graceful: in-flight requests finish within the grace period
    final = await run.wait()               # the final Snapshot (final=True), always published on the bus

The engine itself lives in :mod:`liminal_tui.engine.worker`, run by a :class:`~.pool.WorkerPool`; this
module is the main side: the state machine, ticks, aggregation, bus, thresholds and the worker-loss
policy. The demo target and the reachability check belong to :class:`~liminal_tui.session.Session`.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from typing import Any, Coroutine, Literal

from ..metrics.aggregate import Aggregator
from ..metrics.bus import MetricsBus
from ..metrics.events import Event, EventKind, StopCause, StopReason
from ..metrics.judge import judge
from ..metrics.snapshot import Snapshot
from ..profile.models import Profile
from ..profile.thresholds import Rule
from .clock import RunClock
from .load import LoadShape
from .messages import Abort, Done, Failed, IntervalReport, Lost, SetLoad, Start, Stop, WorkerEvent
from .pool import InProcessPool, ProcessPool, WorkerPool
from .worker import WorkerSpec

__all__ = ["Run", "resolve_workers"]

SLACK = 0.2
"""Seconds the main side waits after a tick boundary for the workers' reports."""
JOIN_WAIT = 5.0
"""Seconds the workers get to end once the run is over, before they are killed."""
OVERRUN = 60.0
"""Seconds past duration + grace after which the run gives up on its workers and kills them."""
THRESHOLD_SETTLE = 10.0
"""Seconds (or a quarter of the duration, if less) before live thresholds may abort a run."""


def resolve_workers(workers: int | Literal["auto"]) -> int:
    if workers == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    return int(workers)


class Run:
    def __init__(self, profile: Profile, workers: int | Literal["auto"] = 1, tick: float = 1.0,
                 grace: float = 5.0, bus: MetricsBus | None = None, buckets: bool = False,
                 pool: WorkerPool | None = None, rules: list[Rule] | None = None) -> None:
        """``rules``: the threshold rules ``abort_on_fail`` watches (default the profile's; a session
        with a baseline passes them with their limits resolved)."""
        self.profile = profile
        self.workers = resolve_workers(workers)
        self.pool: WorkerPool = pool or (InProcessPool() if self.workers == 0 else ProcessPool())
        """Where the workers run; by default in this process for ``workers=0``, else one process each."""
        self.in_process = self.pool.in_process
        self.tick = tick
        self.grace = grace
        self.bus = bus or MetricsBus()
        self.target_url = profile.target
        self.clock: RunClock | None = None
        """The run's clock, from the start instant sent to every worker; None before start."""
        self.started_at: float | None = None
        """Unix time when load started."""
        self.final: Snapshot | None = None
        self.stop_reason: StopReason | None = None
        """Why load stopped; None while it runs."""
        self._shape = LoadShape(profile.load, 1.0)
        self._live: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._done: asyncio.Future[Snapshot] | None = None
        self._stopping = False
        self._killed = False
        self._reader_errors = 0
        """How many of the bus's reader errors have become events."""
        self._load_end: float | None = None
        """Seconds into the run when load stopped: the window that rates are computed over."""
        self._events: list[Event] = []
        self._phase = "starting"
        self._agg = Aggregator(profile.name, profile.target, profile.load.model, float(profile.duration or 0), tick,
                               endpoints=profile.endpoints())
        self._agg.buckets = buckets  # latency buckets for a metrics exporter
        self._rules = rules if rules is not None else profile.thresholds.parsed()
        self._all_done = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, target_url: str | None = None) -> None:
        """Start the workers against ``target_url`` (default: the profile's target), then the clock.

        The target must be a URL: the ``builtin`` demo target and the reachability check belong to
        :class:`~liminal_tui.session.Session`. Raises :class:`~.pool.WorkerStartError`.
        """
        url = target_url or self.target_url
        if url == "builtin":
            raise ValueError("Run needs the target's URL: Session starts the builtin demo target")
        self.target_url = self._agg.target = url
        self._done = asyncio.get_running_loop().create_future()
        count = max(1, self.workers)
        specs = [WorkerSpec(i, count, self.profile, url, self.tick, self.grace) for i in range(count)]
        self._live = set(range(count))
        await self.pool.start(specs, self._on_event)
        self.clock = RunClock(time.time_ns() + int(self.pool.start_lead * 1e9))
        self.started_at = self.clock.started_at
        self.pool.send(Start(self.clock.start_ns))
        self._spawn(self._tick_loop())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """A task of this run's, kept until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, event: WorkerEvent) -> None:
        if isinstance(event, IntervalReport):
            self._agg.add(event)
        elif isinstance(event, Failed):
            self._note(EventKind.WORKER_FAILED, f"worker {event.worker} failed: {event.error}")
        elif isinstance(event, Done):
            self._worker_done(event.worker)
        elif isinstance(event, Lost):
            self._worker_lost(event)

    def _worker_lost(self, event: Lost) -> None:
        i = event.worker
        if i not in self._live:
            return
        if not event.crashed:
            self._note(EventKind.WORKER_SILENT, f"worker {i} {event.reason}")
            self._worker_done(i)
            return
        self._note(EventKind.WORKER_DIED,
                   f"worker {i} died at {self.elapsed:.0f}s ({event.reason}); its load is missing from here on")
        self._agg.forget_worker(i)
        self._worker_done(i)
        if self.profile.on_worker_loss == "stop" and not self._stopping:
            self._spawn(self.stop(StopReason(StopCause.WORKER_LOST, f"worker {i} died")))

    def _note(self, kind: EventKind, text: str) -> None:
        """An event for the next snapshot."""
        self._events.append(Event(kind, text))

    def _worker_done(self, index: int) -> None:
        self._live.discard(index)
        if not self._live:
            self._all_done.set()

    # -- control --------------------------------------------------------------------------------------
    def set_load(self, value: float) -> None:
        """Users (closed model) or iterations/s (open model), from now on."""
        elapsed = self.elapsed
        self._shape.set(value, elapsed)
        self._note(EventKind.LOAD, f"load set to {value:g} {'users' if self.profile.load.model == 'closed' else 'it/s'}")
        self.pool.send(SetLoad(value))

    async def stop(self, reason: StopReason | None = None) -> None:
        """Graceful stop: no new iterations; in-flight requests get ``grace`` seconds."""
        if self._stopping:
            return
        reason = reason or StopReason(StopCause.STOPPED)
        self._stopping = True
        self._load_end = self._load_end or self.elapsed
        self.stop_reason = self.stop_reason or reason
        self._note(EventKind.STOPPING, f"stopping: {reason}")
        self.pool.send(Stop(self.grace))

    def abort(self, reason: StopReason | None = None) -> None:
        """Stop at once; what completed is still reported."""
        reason = reason or StopReason(StopCause.ABORTED)
        self._stopping = True
        self._load_end = self._load_end or self.elapsed
        if self.stop_reason is None or not self.stop_reason.completed:  # an abort during a graceful stop is an abort
            self.stop_reason = reason
        self._note(EventKind.ABORT, f"abort: {reason}")
        self.pool.send(Abort())

    @property
    def unnoted_reader_errors(self) -> list[str]:
        """Bus readers that failed too late for an event (on the final snapshot)."""
        return self.bus.errors[self._reader_errors:]

    async def wait(self) -> Snapshot:
        assert self._done is not None, "start() first"
        return await asyncio.shield(self._done)

    @property
    def elapsed(self) -> float:
        """Seconds since the run's start instant (0 before start)."""
        return self.clock.elapsed() if self.clock is not None else 0.0

    # -- ticks ----------------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        duration = float(self.profile.duration or 0)
        hard_end = duration + self.grace + OVERRUN
        k = 1
        try:
            while self._live and self.elapsed < hard_end:
                wake = k * self.tick + SLACK
                try:  # a tick, or the moment the last worker is done, whichever comes first
                    await asyncio.wait_for(self._all_done.wait(), max(0.0, wake - self.elapsed))
                except asyncio.TimeoutError:
                    pass
                k = max(k + 1, int((self.elapsed - SLACK) / self.tick) + 1)
                if not self._live:
                    break
                snap = self._snapshot(upto_tick=k - 1)  # the workers' reports of ticks up to this one
                self.bus.publish(snap)
                self._check_thresholds(snap)
                if not self._stopping and self.elapsed >= duration:
                    self._stopping = True
                    self._load_end = self._load_end or duration
                    self.stop_reason = self.stop_reason or StopReason(StopCause.COMPLETED)
            if self._live:  # workers that did not finish in time
                self._note(EventKind.WORKERS_KILLED, "workers did not stop in time; killed")
                self._killed = True
                self._live.clear()
        finally:
            await self._finish()

    def _phase_now(self) -> str:
        if self._stopping:
            return "stopping"
        t = self.elapsed
        now, later = self._shape.at(t), self._shape.at(t + self.tick)
        return "ramping" if abs(later - now) > 1e-9 else "steady"

    def _snapshot(self, final: bool = False, upto_tick: int | None = None) -> Snapshot:
        for error in self.bus.errors[self._reader_errors:]:
            self._note(EventKind.READER_FAILED, f"a reader failed and was dropped: {error}")
        self._reader_errors = len(self.bus.errors)
        phase = "finished" if final else self._phase_now()
        if phase != self._phase and not final:
            self._note(EventKind.PHASE, f"phase: {phase}")
        self._phase = phase
        events, self._events = tuple(self._events), []
        elapsed = self.elapsed if not final or self._load_end is None else min(self.elapsed, self._load_end)
        snap = self._agg.snapshot(phase, elapsed, events,
                                  final=final, stop_reason=self.stop_reason if final else None, clock=self.elapsed,
                                  upto_tick=upto_tick)
        if not final and snap.saturated:  # said in the snapshot that shows it, so at the tick it was seen
            saturated = Event(EventKind.SATURATED, "generator saturated: CPU or event-loop lag is high; figures may be skewed")
            snap = replace(snap, events=(*snap.events, saturated))
        return snap

    def _check_thresholds(self, snap: Snapshot) -> None:
        if not self.profile.thresholds.abort_on_fail or self._stopping:
            return
        if snap.elapsed < min(THRESHOLD_SETTLE, float(self.profile.duration or 0) * 0.25):
            return
        lost = [v for v in judge(self._rules, snap) if not v.passed and v.observed is not None]
        if lost:
            reason = StopReason(StopCause.THRESHOLD_LOST, f"{lost[0].rule.selector} {lost[0].rule.text}")
            self._note(EventKind.THRESHOLD_LOST, str(reason))
            self._spawn(self.stop(reason))

    async def _finish(self) -> None:
        """Close the pool, publish the final snapshot; whatever happens, ``wait()`` returns or raises."""
        try:
            await self.pool.close(0.0 if self._killed else JOIN_WAIT)
            duration = float(self.profile.duration or 0)
            if not self.stop_reason and self.elapsed >= duration:
                # The workers can finish (at the duration) before a tick sees the duration pass.
                self.stop_reason = StopReason(StopCause.COMPLETED)
            if (self.stop_reason is not None and self.stop_reason.completed) or self._load_end is None:
                self._load_end = min(self._load_end or duration or self.elapsed, self.elapsed)
            self.final = self._snapshot(final=True)
            self.bus.publish(self.final)
        except Exception as exc:
            if self._done is not None and not self._done.done():
                self._done.set_exception(exc)
            raise
        finally:
            if self._done is not None and not self._done.done():
                if self.final is not None:
                    self._done.set_result(self.final)
                else:  # cancelled before the final snapshot existed
                    self._done.cancel()
