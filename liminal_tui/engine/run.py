"""One run of a profile: the object every front end (CLI, headless printer, app, tests) drives.

    run = Run(profile, workers=1)          # workers=0: the engine runs in this process (tests)
    sub = run.bus.subscribe("latest")      # or "every"; readers subscribe before start
    await run.start()                      # preflight (raises PreflightError), demo target, workers
    run.set_load(50)                       # users (closed) or iterations/s (open), while running
    await run.stop()                       # graceful: in-flight requests finish within the grace period
    final = await run.wait()               # the final Snapshot (final=True), always published on the bus

The engine itself lives in :mod:`liminal_tui.engine.worker`; this module is its main-process side.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator, Literal

from ..profile.models import Profile
from ..profile.thresholds import Rule
from .aggregate import Aggregator
from .bus import MetricsBus
from .judge import judge
from .load import LoadShape
from .preflight import PreflightError, preflight
from .snapshot import IntervalReport, Snapshot
from .worker import Worker, WorkerSpec, worker_process_main

__all__ = ["Run", "PreflightError", "resolve_workers"]

SLACK = 0.2  # seconds the main side waits after a tick boundary for the workers' reports
EXIT_WAIT = 5.0  # seconds a cleanly exited worker's last messages may take to arrive


def resolve_workers(workers: int | Literal["auto"]) -> int:
    if workers == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    return int(workers)


@contextmanager
def _real_stdio() -> Iterator[None]:
    """multiprocessing hands ``sys.stderr.fileno()`` to its helper process; a UI that captures stderr
    (Textual does) has no such descriptor, so spawn with the process's real streams."""
    saved = sys.stdout, sys.stderr
    try:
        sys.stderr.fileno()
        ok = True
    except (AttributeError, OSError, ValueError):
        ok = False
    if not ok or sys.stderr.fileno() < 0:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


class Run:
    def __init__(self, profile: Profile, workers: int | Literal["auto"] = 1, tick: float = 1.0,
                 grace: float = 5.0, bus: MetricsBus | None = None, buckets: bool = False,
                 rules: list[Rule] | None = None) -> None:
        """``rules``: the threshold rules ``abort_on_fail`` watches (default the profile's; a session
        with a baseline passes them with their limits resolved)."""
        self.profile = profile
        self.workers = resolve_workers(workers)
        self.in_process = self.workers == 0
        self.tick = tick
        self.grace = grace
        self.bus = bus or MetricsBus()
        self.target_url = profile.target
        self.started_at: float | None = None
        """Unix time when load started."""
        self.final: Snapshot | None = None
        self.stop_reason = ""
        self.report_dir = None
        self._demo: Any = None
        self._shape = LoadShape(profile.load, 1.0)
        self._procs: list[Any] = []
        self._controls: list[Any] = []
        self._live: set[int] = set()
        self._inproc: Worker | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._done: asyncio.Future[Snapshot] | None = None
        self._stopping = False
        self._load_end: float | None = None
        """Seconds into the run when load stopped: the window that rates are computed over."""
        self._events: list[str] = []
        self._phase = "starting"
        self._agg = Aggregator(profile.name, profile.target, profile.load.model, float(profile.duration or 0), tick,
                               endpoints=profile.endpoints())
        self._agg.buckets = buckets  # latency buckets for a metrics exporter
        self._t0_ns = 0
        self._rules = rules if rules is not None else profile.thresholds.parsed()
        self._ready: set[int] = set()
        self._exited_at: dict[int, float] = {}
        self._all_done = asyncio.Event()
        self._ready_event = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        if self.profile.target == "builtin":
            from ..demo.process import DemoProcess

            self._demo = DemoProcess()
            await loop.run_in_executor(None, self._demo.__enter__)
            self.target_url = self._demo.url
        else:
            await preflight(self.target_url)
        self._agg.target = self.target_url
        count = max(1, self.workers)
        specs = [WorkerSpec(i, count, self.profile, self.target_url, 0, self.tick, self.grace) for i in range(count)]
        if self.in_process:
            self._start_clock()
            self._inproc = Worker(replace(specs[0], t0_ns=self._t0_ns), self._on_report)
            self._live = {0}
            self._tasks.append(asyncio.ensure_future(self._run_inproc(self._inproc)))
        else:
            ctx = multiprocessing.get_context("spawn")
            with _real_stdio():
                results = ctx.Queue()
                self._spawn(ctx, specs, results)
            threading.Thread(target=self._read_results, args=(results, loop), daemon=True).start()
            await self._wait_ready(count)
            self._start_clock()
            for control in self._controls:
                control.put(("start", self._t0_ns))
        self._tasks.append(asyncio.ensure_future(self._tick_loop()))

    def _spawn(self, ctx: Any, specs: list[WorkerSpec], results: Any) -> None:
        for spec in specs:
            control = ctx.Queue()
            proc = ctx.Process(target=worker_process_main, args=(spec, control, results), daemon=True,
                               name=f"liminal-worker-{spec.index}")
            proc.start()
            self._procs.append(proc)
            self._controls.append(control)
            self._live.add(spec.index)

    def _start_clock(self) -> None:
        self._t0_ns = time.perf_counter_ns()
        self.started_at = time.time()

    async def _wait_ready(self, count: int, timeout: float = 60.0) -> None:
        """Wait until every worker process has imported its engine (bounded)."""
        deadline = time.monotonic() + timeout
        while len(self._ready) < count:
            dead = [i for i, p in enumerate(self._procs) if not p.is_alive()]
            if dead or time.monotonic() > deadline:
                self._kill()
                await self._stop_demo()
                why = f"worker {dead[0]} exited with code {self._procs[dead[0]].exitcode}" if dead else "timed out"
                raise RuntimeError(f"worker processes failed to start: {why}")
            self._ready_event.clear()
            try:
                await asyncio.wait_for(self._ready_event.wait(), 0.25)
            except asyncio.TimeoutError:
                pass

    async def _stop_demo(self) -> None:
        if self._demo is not None:
            demo, self._demo = self._demo, None
            await asyncio.get_running_loop().run_in_executor(None, demo.__exit__, None, None, None)

    async def _run_inproc(self, worker: Worker) -> None:
        try:
            await worker.run()
        finally:
            self._worker_done(0)

    def _read_results(self, results: Any, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                item = results.get(timeout=1.0)
            except Exception:
                if self._done is None or self._done.done():
                    return
                continue
            try:
                loop.call_soon_threadsafe(self._on_result, item)
            except RuntimeError:
                return

    def _on_result(self, item: Any) -> None:
        if isinstance(item, IntervalReport):
            self._on_report(item)
        elif item[0] == "error":
            self._events.append(f"worker {item[1]} failed: {item[2]}")
        elif item[0] == "done":
            self._worker_done(item[1])
        elif item[0] == "ready":
            self._ready.add(item[1])
            self._ready_event.set()

    def _on_report(self, report: IntervalReport) -> None:
        self._agg.add(report)

    def _worker_done(self, index: int) -> None:
        self._live.discard(index)
        if not self._live:
            self._all_done.set()

    # -- control --------------------------------------------------------------------------------------
    def set_load(self, value: float) -> None:
        """Users (closed model) or iterations/s (open model), from now on."""
        elapsed = self.elapsed
        self._shape.set(value, elapsed)
        self._events.append(f"load set to {value:g} {'users' if self.profile.load.model == 'closed' else 'it/s'}")
        self._send(("set", value), lambda w: w.set_load(value))

    async def stop(self, reason: str = "stopped") -> None:
        """Graceful stop: no new iterations; in-flight requests get ``grace`` seconds."""
        if self._stopping:
            return
        self._stopping = True
        self._load_end = self._load_end or self.elapsed
        self.stop_reason = self.stop_reason or reason
        self._events.append(f"stopping: {reason}")
        self._send(("stop", self.grace), lambda w: w.request_stop(self.grace))

    def abort(self, reason: str = "aborted") -> None:
        """Stop at once; what completed is still reported."""
        self._stopping = True
        self._load_end = self._load_end or self.elapsed
        if self.stop_reason != "completed":  # an abort during a graceful stop is an abort
            self.stop_reason = reason
        self._events.append(f"abort: {reason}")
        self._send(("abort",), lambda w: w.abort())

    def _send(self, cmd: tuple[Any, ...], local: Any) -> None:
        if self._inproc is not None:
            local(self._inproc)
        for control in self._controls:
            try:
                control.put(cmd)
            except Exception:
                pass

    async def wait(self) -> Snapshot:
        assert self._done is not None, "start() first"
        return await asyncio.shield(self._done)

    @property
    def elapsed(self) -> float:
        return (time.perf_counter_ns() - self._t0_ns) / 1e9 if self._t0_ns else 0.0

    # -- ticks ----------------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        duration = float(self.profile.duration or 0)
        hard_end = duration + self.grace + 60.0
        k = 1
        try:
            while self._live and self.elapsed < hard_end:
                wake = k * self.tick + SLACK
                try:  # a tick, or the moment the last worker is done, whichever comes first
                    await asyncio.wait_for(self._all_done.wait(), max(0.0, wake - self.elapsed))
                except asyncio.TimeoutError:
                    pass
                k = max(k + 1, int((self.elapsed - SLACK) / self.tick) + 1)
                self._check_workers()
                if not self._live:
                    break
                snap = self._snapshot()
                self.bus.publish(snap)
                self._check_thresholds(snap)
                if not self._stopping and self.elapsed >= duration:
                    self._stopping = True
                    self._load_end = self._load_end or duration
                    self.stop_reason = self.stop_reason or "completed"
            if self._live:  # workers that did not finish in time
                self._events.append("workers did not stop in time; killed")
                self._kill()
        finally:
            await self._finish()

    def _check_workers(self) -> None:
        for i, proc in enumerate(self._procs):
            if i in self._live and not proc.is_alive():
                if proc.exitcode == 0:
                    # A clean exit: its final report and then "done" are still in the pipe, in that order;
                    # "done" takes it off the live set. Only a pipe that never delivers is given up on.
                    self._exited_at.setdefault(i, self.elapsed)
                    if self.elapsed - self._exited_at[i] > EXIT_WAIT:
                        self._events.append(f"worker {i} exited but its last report never arrived")
                        self._live.discard(i)
                    continue
                self._live.discard(i)
                if proc.exitcode is not None:
                    self._events.append(
                        f"worker {i} died at {self.elapsed:.0f}s (exit code {proc.exitcode}); its load is missing from here on"
                    )
                    self._agg.forget_worker(i)
                    if self.profile.on_worker_loss == "stop" and not self._stopping:
                        asyncio.ensure_future(self.stop(f"worker {i} died"))

    def _phase_now(self) -> str:
        if self._stopping:
            return "stopping"
        t = self.elapsed
        now, later = self._shape.at(t), self._shape.at(t + self.tick)
        return "ramping" if abs(later - now) > 1e-9 else "steady"

    def _snapshot(self, final: bool = False) -> Snapshot:
        phase = "finished" if final else self._phase_now()
        if phase != self._phase and not final:
            self._events.append(f"phase: {phase}")
        self._phase = phase
        events, self._events = tuple(self._events), []
        elapsed = self.elapsed if not final or self._load_end is None else min(self.elapsed, self._load_end)
        snap = self._agg.snapshot(phase, elapsed, events,
                                  final=final, stop_reason=self.stop_reason if final else "", clock=self.elapsed)
        if not final and snap.saturated:
            self._events.append("generator saturated: CPU or event-loop lag is high; figures may be skewed")
        return snap

    def _check_thresholds(self, snap: Snapshot) -> None:
        if not self.profile.thresholds.abort_on_fail or self._stopping:
            return
        if snap.elapsed < min(10.0, float(self.profile.duration or 0) * 0.25):
            return
        lost = [v for v in judge(self._rules, snap) if not v.passed and v.observed is not None]
        if lost:
            reason = f"threshold lost: {lost[0].rule.selector} {lost[0].rule.text}"
            self._events.append(reason)
            asyncio.ensure_future(self.stop(reason))

    def _kill(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
        self._live.clear()

    async def _finish(self) -> None:
        for proc in self._procs:
            await asyncio.get_running_loop().run_in_executor(None, proc.join, 5.0)
            if proc.is_alive():
                proc.kill()
        duration = float(self.profile.duration or 0)
        if not self.stop_reason and self.elapsed >= duration:
            # The workers can finish (at the duration) before a tick sees the duration pass.
            self.stop_reason = "completed"
        if self.stop_reason == "completed" or self._load_end is None:
            self._load_end = min(self._load_end or duration or self.elapsed, self.elapsed)
        final = self._snapshot(final=True)
        self.final = final
        await self._stop_demo()
        self.bus.publish(final)
        if self._done is not None and not self._done.done():
            self._done.set_result(final)
