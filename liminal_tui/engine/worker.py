"""A worker: one event loop running its share of the load, shipping an IntervalReport every tick.

Workers run in their own processes (so drawing the screen never steals their CPU) or, for tests, as a
task in the caller's loop. Either way the same :class:`Worker` runs; only the pipes differ.
"""

from __future__ import annotations

import asyncio
import gc
import os
import itertools
import random
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..profile.models import Profile
from ..profile.templates import compile_value, render_value
from .clean import Cleaner, secret_values
from .health import HealthMonitor
from .http import make_client
from .load import TICK, ClosedLoad, LoadShape, OpenLoad
from .recorder import Recorder
from .snapshot import IntervalReport
from .steps import Engine, User, compile_steps
from .ws import WsStats

__all__ = ["WorkerSpec", "Worker", "worker_process_main"]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs; picklable, sent to the worker process at start."""

    index: int
    count: int
    profile: Profile
    base_url: str
    t0_ns: int
    """``perf_counter_ns()`` at the run's start (the clock is shared by processes on one machine)."""
    tick: float = 1.0
    grace: float = 5.0

    @property
    def share(self) -> float:
        return 1.0 / self.count


class Worker:
    def __init__(self, spec: WorkerSpec, emit: Callable[[IntervalReport], None], freeze_gc: bool = False,
                 parent_pid: int | None = None) -> None:
        self.spec = spec
        self.emit = emit
        self.parent_pid = parent_pid
        """Own process only: the main process; if it is gone (killed outright), the worker aborts."""
        self.freeze_gc = freeze_gc
        """Own process only: once the load has ramped up, move what exists to gc's permanent generation,
        so full collections stop scanning thousands of long-lived connections (measured: 0.9-1.2 s
        event-loop stalls with 10,000 WebSockets)."""
        profile = spec.profile
        self.open_model = profile.load.model == "open"
        self.clean = Cleaner(secret_values(profile))
        """Failure messages and worker errors pass through it: no control characters, no secrets."""
        self.recorder = Recorder(open_model=self.open_model, clean=self.clean, timings=profile.http.timings)
        self.ws_stats = WsStats()
        self.health = HealthMonitor(spec.index)
        self.shape = LoadShape(profile.load, spec.share)
        self._stop_at: float | None = None
        self._grace = spec.grace
        self._aborted = False
        self._tick = 0

    # -- control (called in the worker's loop) --------------------------------------------------------
    def set_load(self, total: float) -> None:
        self.shape.set(total * self.spec.share, self._elapsed())

    def request_stop(self, grace: float | None = None) -> None:
        if grace is not None:
            self._grace = grace
        if self._stop_at is None:
            self._stop_at = self._elapsed()

    def abort(self) -> None:
        self._aborted = True
        self.request_stop(0.0)

    def _elapsed(self) -> float:
        return (time.perf_counter_ns() - self.spec.t0_ns) / 1e9

    # -- the run --------------------------------------------------------------------------------------
    async def run(self) -> None:
        spec, profile = self.spec, self.spec.profile
        client = make_client(profile.http, connections=0)
        base_vars = {k: render_value(compile_value(v), {}) for k, v in profile.vars.items()}
        headers = {k: render_value(compile_value(v), {}) for k, v in profile.http.headers.items()}
        eng = Engine(client, self.recorder, spec.base_url, self.ws_stats, profile.http.verify_tls, headers, profile.http)
        scenarios = [(s, compile_steps(s.steps, eng, s.on_failure)) for s in profile.scenarios if s.weight > 0]
        cum_weights = list(itertools.accumulate(s.weight for s, _ in scenarios))
        steps_only = [steps for _, steps in scenarios]

        async def iteration(user: User) -> None:
            steps = steps_only[0] if len(steps_only) == 1 else random.choices(steps_only, cum_weights=cum_weights)[0]
            for i, step in enumerate(steps):
                if not await step.run(user) and step.ends_iteration:
                    for later in steps[i + 1:]:  # not run: counted, so they are seen
                        later.skip()
                    return

        def new_user(number: int) -> User:
            return User(number, base_vars)

        first = spec.index * 1_000_000 + 1
        if self.open_model:
            load: Any = OpenLoad(self.shape, iteration, new_user, max(1, int(profile.load.max_in_flight * spec.share)), first)
        else:
            load = ClosedLoad(self.shape, iteration, new_user, profile.load.think_range, first)
        duration = float(profile.duration or 0)
        hard_end = time.perf_counter() + duration + spec.grace + 30.0
        self.health.take()  # CPU is measured from here: setting up the client is not the load
        health_task = asyncio.ensure_future(self.health.run(hard_end))
        next_tick = spec.tick
        frozen = False
        last_iterations = last_dropped = 0
        try:
            while True:
                t = self._elapsed()
                if t >= next_tick:
                    last_iterations, last_dropped = self._report(load, t, client, last_iterations, last_dropped)
                    next_tick += spec.tick
                    if self.parent_pid is not None and os.getppid() != self.parent_pid:
                        self.abort()  # nobody is left to read the results
                    if self.freeze_gc and not frozen and t >= 1.0 and load.active >= int(load.target(t)):
                        gc.freeze()  # ramped up: the objects alive now live for the run
                        frozen = True
                if self._stop_at is None and t >= duration:
                    self._stop_at = duration
                if self._stop_at is not None or time.perf_counter() > hard_end:
                    break
                pause = min(TICK, max(0.0, next_tick - t))
                if self.open_model:
                    load.adjust(t, spec.t0_ns)
                    # Wake for the next arrival, not just every TICK: an arrival started late has that
                    # lateness added to its (corrected) latency, which would be the generator's fault.
                    pause = min(pause, load.due_in())
                else:
                    load.adjust(t)
                await asyncio.sleep(pause)
            # Stopping: in-flight iterations finish within the grace period, then are cancelled.
            load.stop()
            tasks = load.tasks()
            if tasks and not self._aborted and self._grace > 0:
                await asyncio.wait(tasks, timeout=self._grace)
            for task in load.tasks():
                task.cancel()
            for task in load.tasks():
                try:
                    await asyncio.wait_for(task, 2.0)
                except BaseException:
                    pass
        finally:
            health_task.cancel()
            try:
                await client.close()
            except Exception:
                pass
            self._report(load, self._elapsed(), client, last_iterations, last_dropped, final=True)

    def _report(self, load: Any, t: float, client: Any, last_it: int, last_drop: int, final: bool = False) -> tuple[int, int]:
        self._tick += 1
        connects, reconnects, drops, msgs_in, msgs_out = self.ws_stats.take()
        iterations = load.iterations
        dropped = getattr(load, "dropped", 0)
        try:
            conns = client.open_connections()
        except Exception:
            conns = 0
        self.emit(IntervalReport(
            worker=self.spec.index, tick=self._tick, t_end=t, endpoints=self.recorder.drain(),
            users=0 if final else load.active, target=0.0 if final else load.target(t),
            iterations=iterations - last_it, dropped=dropped - last_drop,
            http_connections=0 if final else conns, ws_open=0 if final else self.ws_stats.open,
            ws_connects=connects, ws_reconnects=reconnects, ws_drops=drops,
            ws_messages_in=msgs_in, ws_messages_out=msgs_out, health=self.health.take(), final=final,
        ))
        return iterations, dropped


def worker_process_main(spec: WorkerSpec, control: Any, results: Any) -> None:
    """Entry point of a worker process: run the worker, obey commands from ``control``."""
    # The terminal sends Ctrl-C (and a dropped SSH link SIGHUP) to the whole process group: the main
    # process decides what happens, and tells the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(_process_run(spec, control, results))


async def _process_run(spec: WorkerSpec, control: Any, results: Any) -> None:
    import dataclasses
    import threading

    # Import everything the hot path needs, then say so: the run's clock starts only when every worker
    # is ready, so start-up time is neither counted in RPS nor added to open-model latencies.
    if spec.profile.http.client == "aiohttp":  # the fast client serves http:// and https:// without it
        import aiohttp  # noqa: F401  (~0.2 s of CPU a worker start; URLs with credentials import it when met)
    import websockets.asyncio.client  # noqa: F401

    loop = asyncio.get_running_loop()
    results.put(("ready", spec.index))
    cmd = await loop.run_in_executor(None, control.get)
    if not cmd or cmd[0] != "start":
        return
    spec = dataclasses.replace(spec, t0_ns=cmd[1])
    worker = Worker(spec, results.put, freeze_gc=True, parent_pid=os.getppid())

    def listen() -> None:
        while True:
            try:
                cmd = control.get()
            except (EOFError, OSError):
                cmd = ("abort",)
            if cmd is None:
                return
            name, *args = cmd
            try:
                loop.call_soon_threadsafe(getattr(worker, {"set": "set_load", "stop": "request_stop", "abort": "abort"}[name]), *args)
            except RuntimeError:
                return
            if name == "abort":
                return

    threading.Thread(target=listen, daemon=True).start()
    try:
        await worker.run()
    except BaseException as exc:  # report, then let the main process see the worker end
        results.put(("error", spec.index, worker.clean(f"{type(exc).__name__}: {exc}")))
        raise
    finally:
        results.put(("done", spec.index))
