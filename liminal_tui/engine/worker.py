"""A worker: one event loop running its share of the load, shipping an IntervalReport every tick.

:func:`serve_worker` is the worker's whole life, fed by a stream of commands (:mod:`.messages`) and
answering through ``emit``: Ready, then (after Start) an IntervalReport a tick, then Done. A
:class:`~.pool.WorkerPool` runs it as a task in the caller's loop (tests) or in its own process (so
drawing the screen never steals its CPU); only the pipes differ.
"""

from __future__ import annotations

import asyncio
import os
import itertools
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..metrics.health import HealthMonitor
from ..metrics.recorder import Recorder
from ..metrics.snapshot import IntervalReport
from ..profile.models import Profile
from ..profile.template_funcs import seed_random
from ..profile.templates import compile_value, render_value
from ..metrics.clean import Cleaner, secret_values
from .clients import make_client
from .clients.ws import WsStats
from .clock import RunClock
from .gcfreeze import GcFreezer
from .load import TICK, ClosedLoad, LoadShape, OpenLoad
from .feeders import load_feeders
from .flow import ScenarioFlow, UserMaker, make_iteration
from .messages import Abort, Command, Done, Failed, Ready, SetLoad, Start, Stop, WorkerEvent
from .steps import Engine, User, compile_steps

__all__ = ["WorkerSpec", "Worker", "serve_worker", "worker_process_main"]

HARD_END_SLACK = 30.0
"""Seconds past duration + grace after which a worker ends whatever happens."""
CANCEL_WAIT = 2.0
"""Seconds a cancelled iteration gets to unwind (close its sockets) when the worker stops."""
USER_NUMBERS_PER_WORKER = 1_000_000
"""Worker ``i`` numbers its users from ``i * USER_NUMBERS_PER_WORKER + 1``: unique across workers."""


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs; picklable, sent to the worker process at start."""

    index: int
    count: int
    profile: Profile
    base_url: str
    tick: float = 1.0
    grace: float = 5.0

    @property
    def share(self) -> float:
        return 1.0 / self.count


class Worker:
    def __init__(self, spec: WorkerSpec, clock: RunClock, emit: Callable[[WorkerEvent], None],
                 freeze_gc: bool = False, parent_pid: int | None = None) -> None:
        self.spec = spec
        self.clock = clock
        self.emit = emit
        self.parent_pid = parent_pid
        """Own process only: the main process; if it is gone (killed outright), the worker aborts."""
        self.freeze_gc = freeze_gc
        """Own process only: keep the cyclic collector off long-lived connections (see :mod:`.gcfreeze`)."""
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
        self._tick_start = 0.0
        """Run time at which the current tick began (its report's ``t_start``)."""

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
        return self.clock.elapsed()

    # -- the run --------------------------------------------------------------------------------------
    async def run(self) -> None:
        spec, profile = self.spec, self.spec.profile
        client = make_client(profile.http, connections=0)
        base_vars = {k: render_value(compile_value(v), {}) for k, v in profile.vars.items()}
        headers = {k: render_value(compile_value(v), {}) for k, v in profile.http.headers.items()}
        eng = Engine(client, self.recorder, spec.base_url, self.ws_stats, profile.http.verify_tls, headers, profile.http)
        if profile.seed is not None:
            seed_random(profile.seed + spec.index)
        flows = [ScenarioFlow(s, lambda steps, on_failure=None, s=s: compile_steps(steps, eng, on_failure or s.on_failure))
                 for s in profile.scenarios if s.weight > 0]
        cum_weights = list(itertools.accumulate(f.scenario.weight for f in flows))
        feeders = load_feeders(profile.data, spec.index, spec.count)
        iteration = make_iteration(flows, cum_weights, feeders)  # setup, teardown, data: see flow.py
        new_user = UserMaker(User, base_vars, profile.user_vars, feeders)

        first = spec.index * USER_NUMBERS_PER_WORKER + 1
        if self.open_model:
            load: Any = OpenLoad(self.shape, iteration, new_user, max(1, int(profile.load.max_in_flight * spec.share)), first)
        else:
            load = ClosedLoad(self.shape, iteration, new_user, profile.load.think_range, first, slot=spec.index)
        duration = float(profile.duration or 0)
        hard_end = time.perf_counter() + duration + spec.grace + HARD_END_SLACK
        self.health.take()  # CPU is measured from here: setting up the client is not the load
        health_task = asyncio.ensure_future(self.health.run(hard_end))
        next_tick = spec.tick
        freezer = GcFreezer() if self.freeze_gc else None
        last_iterations = last_dropped = 0
        try:
            while True:
                t = self._elapsed()
                if t >= next_tick:
                    last_iterations, last_dropped = self._report(load, t, client, last_iterations, last_dropped)
                    next_tick += spec.tick
                    if self.parent_pid is not None and os.getppid() != self.parent_pid:
                        self.abort()  # nobody is left to read the results
                    if freezer is not None:
                        freezer.tick(t, load.active, load.target(t), self.ws_stats.open)
                if self._stop_at is None and t >= duration:
                    self._stop_at = duration
                if self._stop_at is not None or time.perf_counter() > hard_end:
                    break
                pause = min(TICK, max(0.0, next_tick - t))
                if self.open_model:
                    load.adjust(t, self.clock.origin_ns)
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
            broken = []
            for task in load.tasks():
                try:
                    await asyncio.wait_for(task, CANCEL_WAIT)
                except (asyncio.CancelledError, asyncio.TimeoutError):
                    pass  # cut short, as asked
                except Exception as exc:  # an iteration that failed in a way no step recorded
                    broken.append(exc)
            if broken:
                first = broken[0]
                self.emit(Failed(spec.index, self.clean(f"{len(broken)} iteration(s) ended with an error while "
                                                        f"stopping, e.g. {type(first).__name__}: {first}")))
        finally:
            health_task.cancel()
            try:
                await client.close()
            except Exception as exc:  # the run's figures are complete; say so, then send them
                self.emit(Failed(spec.index, self.clean(f"closing the HTTP client: {type(exc).__name__}: {exc}")))
            self._report(load, self._elapsed(), client, last_iterations, last_dropped, final=True)

    def _report(self, load: Any, t: float, client: Any, last_it: int, last_drop: int, final: bool = False) -> tuple[int, int]:
        self._tick += 1
        connects, reconnects, drops, msgs_in, msgs_out, at_read = self.ws_stats.take()
        iterations = load.iterations
        dropped = getattr(load, "dropped", 0)
        conns = client.open_connections()
        self.emit(IntervalReport(
            worker=self.spec.index, tick=self._tick, t_start=self._tick_start, t_end=t, endpoints=self.recorder.drain(),
            users=0 if final else load.active, target=0.0 if final else load.target(t),
            iterations=iterations - last_it, dropped=dropped - last_drop,
            http_connections=0 if final else conns, ws_open=0 if final else self.ws_stats.open,
            ws_connects=connects, ws_reconnects=reconnects, ws_drops=drops,
            ws_messages_in=msgs_in, ws_messages_out=msgs_out, health=self.health.take(stopping=final), final=final,
            ws_messages_timed_at_read=at_read,
        ))
        self._tick_start = t
        return iterations, dropped


async def serve_worker(spec: WorkerSpec, commands: "asyncio.Queue[Command]", emit: Callable[[WorkerEvent], None],
                       *, freeze_gc: bool = False, parent_pid: int | None = None) -> None:
    """A worker's life: Ready; wait for Start; run, obeying SetLoad/Stop/Abort; Failed if it raised; Done.

    The same body serves every pool: ``commands`` is fed by the pool (directly, or by a thread reading a
    pipe) and ``emit`` sends events back. A command other than Start first ends the worker (Done).
    """
    emit(Ready(spec.index))
    first = await commands.get()
    if not isinstance(first, Start):
        emit(Done(spec.index))
        return
    worker = Worker(spec, RunClock(first.at_ns), emit, freeze_gc=freeze_gc, parent_pid=parent_pid)

    async def obey() -> None:
        while True:
            cmd = await commands.get()
            if isinstance(cmd, SetLoad):
                worker.set_load(cmd.value)
            elif isinstance(cmd, Stop):
                worker.request_stop(cmd.grace)
            elif isinstance(cmd, Abort):
                worker.abort()
                return

    listener = asyncio.ensure_future(obey())
    try:
        await worker.run()
    except BaseException as exc:  # report, then let the run see the worker end
        emit(Failed(spec.index, worker.clean(f"{type(exc).__name__}: {exc}")))
        raise
    finally:
        listener.cancel()
        emit(Done(spec.index))


def raise_open_files() -> None:
    """The soft limit on open files up to the hard one (as Locust does): a worker holds a descriptor per
    connection, and WebSockets read with arrival stamps a second (:mod:`.clients.ws_arrival`)."""
    try:
        import resource
    except ImportError:  # not a Unix
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):  # not allowed here: the limit stays, and so does what it allows
            pass


def worker_process_main(spec: WorkerSpec, control: Any, results: Any) -> None:
    """Entry point of a worker process: serve the worker, commands from ``control``, events to ``results``."""
    # The terminal sends Ctrl-C (and a dropped SSH link SIGHUP) to the whole process group: the main
    # process decides what happens, and tells the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    raise_open_files()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(_process_run(spec, control, results))


async def _process_run(spec: WorkerSpec, control: Any, results: Any) -> None:
    # Import everything the hot path needs before saying Ready: the run's clock starts only when every
    # worker is ready, so start-up time is neither counted in RPS nor added to open-model latencies.
    if spec.profile.http.client == "aiohttp":  # the fast client serves http:// and https:// without it
        import aiohttp  # noqa: F401  (~0.2 s of CPU a worker start; URLs with credentials import it when met)
    import websockets.asyncio.client  # noqa: F401

    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[Command] = asyncio.Queue()

    def pipe() -> None:
        """Forward commands from the main process into the worker's loop (a closed pipe means Abort)."""
        while True:
            try:
                cmd = control.get()
            except (EOFError, OSError):
                cmd = Abort()
            if cmd is None:
                return
            try:
                loop.call_soon_threadsafe(commands.put_nowait, cmd)
            except RuntimeError:  # the loop has closed: the worker is over
                return
            if isinstance(cmd, Abort):
                return

    threading.Thread(target=pipe, daemon=True, name=f"liminal-worker-{spec.index}-commands").start()
    await serve_worker(spec, commands, results.put, freeze_gc=True, parent_pid=os.getppid())
