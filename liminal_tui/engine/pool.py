"""Where workers run: the seam between a run and its load generators.

    pool.start(specs, emit)   # every worker Ready (or WorkerStartError); events go to ``emit``
    pool.send(Start(at_ns))   # commands go to every worker: Start, SetLoad, Stop, Abort
    await pool.close()        # wait for the workers to end (bounded), then kill what is left

A pool carries :mod:`.messages` both ways and watches its workers: one that vanishes without ``Done``
becomes a :class:`~.messages.Lost` event. :class:`InProcessPool` runs them as tasks in the caller's loop
(tests, ``workers = 0``); :class:`ProcessPool` in their own processes. A pool of remote hosts is a third
implementation of the same three calls.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol, Sequence

from .messages import Command, Done, Lost, Ready, WorkerEvent
from .worker import WorkerSpec, serve_worker, worker_process_main

__all__ = ["WorkerPool", "InProcessPool", "ProcessPool", "WorkerStartError", "Emit"]

Emit = Callable[[WorkerEvent], None]

READY_TIMEOUT = 60.0
"""Seconds every worker process gets to import its engine and say Ready."""
READY_POLL = 0.25
"""Seconds between checks that no worker died while the others get ready."""
LIVENESS_POLL = 0.2
"""Seconds between checks that the worker processes are alive."""
EXIT_WAIT = 5.0
"""Seconds a cleanly exited worker's last messages may take to arrive before it counts as lost."""
PIPE_POLL = 1.0
"""Seconds the results reader blocks before checking whether the pool has closed."""


class WorkerStartError(Exception):
    """The workers could not be started; ``str()`` is one line for the user."""


class WorkerPool(Protocol):
    """Runs one worker per spec and carries commands to them and events back."""

    in_process: bool
    """True when the workers share the caller's process (and event loop)."""

    start_lead: float
    """Seconds ahead of now the run places its start instant, so that every worker has Start before it
    comes (0 for local pools; remote hosts need the commands' travel time)."""

    async def start(self, specs: Sequence[WorkerSpec], emit: Emit) -> None:
        """Start the workers; return once each is Ready. Raise :class:`WorkerStartError` if one cannot be."""

    def send(self, command: Command) -> None:
        """Deliver ``command`` to every worker (never blocks)."""

    async def close(self, wait: float) -> None:
        """Give the workers up to ``wait`` seconds to end, then end them; release everything."""

    def summary(self) -> dict[str, Any]:
        """Sections the pool adds to summary.json (remote hosts: ``hosts``, ``clock``); empty here."""


class _Tracking:
    """Forward events to the run's ``emit``, noting who is Ready and Done."""

    start_lead = 0.0

    def __init__(self) -> None:
        self.emit: Emit = lambda event: None
        self.ready: set[int] = set()
        self.done: set[int] = set()
        self.lost: set[int] = set()
        self.ready_changed = asyncio.Event()

    def on_event(self, event: WorkerEvent) -> None:
        if isinstance(event, Ready):
            self.ready.add(event.worker)
            self.ready_changed.set()
        elif isinstance(event, Done):
            self.done.add(event.worker)
        self.emit(event)

    def summary(self) -> dict[str, Any]:
        return {}

    def lose(self, worker: int, reason: str, crashed: bool = True) -> None:
        if worker not in self.done and worker not in self.lost:
            self.lost.add(worker)
            self.emit(Lost(worker, reason, crashed))


class InProcessPool(_Tracking):
    """Workers as tasks in the caller's event loop: no processes, for tests and ``workers = 0``."""

    in_process = True

    def __init__(self) -> None:
        super().__init__()
        self._queues: list[asyncio.Queue[Command]] = []
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def start(self, specs: Sequence[WorkerSpec], emit: Emit) -> None:
        self.emit = emit
        for spec in specs:
            commands: asyncio.Queue[Command] = asyncio.Queue()
            self._queues.append(commands)
            task = asyncio.create_task(serve_worker(spec, commands, self.on_event), name=f"liminal-worker-{spec.index}")
            task.add_done_callback(lambda t, i=spec.index: self._ended(i, t))
            self._tasks[spec.index] = task
        while len(self.ready) < len(specs):
            self.ready_changed.clear()
            await self.ready_changed.wait()

    def _ended(self, worker: int, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            self.lose(worker, "cancelled")
        elif task.exception() is not None:  # retrieved here; the worker already emitted Failed and Done
            self.lose(worker, f"{type(task.exception()).__name__}: {task.exception()}")

    def send(self, command: Command) -> None:
        for commands in self._queues:
            commands.put_nowait(command)

    async def close(self, wait: float) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks and wait > 0:
            await asyncio.wait(tasks, timeout=wait)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


@contextmanager
def _stderr_with_descriptor() -> Iterator[None]:
    """multiprocessing hands ``sys.stderr.fileno()`` to its resource tracker; a UI that captures stderr
    (Textual does) has none. Only then, and only while spawning, stderr is the process's real one."""
    try:
        ok = sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        ok = False
    if ok:
        yield
        return
    saved, sys.stderr = sys.stderr, sys.__stderr__
    try:
        yield
    finally:
        sys.stderr = saved


class ProcessPool(_Tracking):
    """One process per worker (``spawn``), commands down a queue each, events up one shared queue."""

    in_process = False

    def __init__(self, ready_timeout: float = READY_TIMEOUT) -> None:
        super().__init__()
        self.ready_timeout = ready_timeout
        self.undelivered = 0
        """Commands that could not be put on a worker's queue (its pipe closed)."""
        self._procs: list[Any] = []
        self._controls: list[Any] = []
        self._closed = threading.Event()
        self._watcher: asyncio.Task[None] | None = None

    async def start(self, specs: Sequence[WorkerSpec], emit: Emit) -> None:
        self.emit = emit
        loop = asyncio.get_running_loop()
        ctx = multiprocessing.get_context("spawn")
        try:
            with _stderr_with_descriptor():
                results = ctx.Queue()
                for spec in specs:
                    control = ctx.Queue()
                    proc = ctx.Process(target=worker_process_main, args=(spec, control, results), daemon=True,
                                       name=f"liminal-worker-{spec.index}")
                    proc.start()
                    self._procs.append(proc)
                    self._controls.append(control)
        except OSError as exc:
            self._kill()
            raise WorkerStartError(f"worker processes failed to start: {exc.strerror or exc}") from None
        threading.Thread(target=self._read, args=(results, loop), daemon=True, name="liminal-results").start()
        await self._wait_ready(len(specs))
        self._watcher = asyncio.create_task(self._watch(), name="liminal-worker-watch")

    def _read(self, results: Any, loop: asyncio.AbstractEventLoop) -> None:
        """Thread: hand each event from the workers to the loop, until the pool closes."""
        while not self._closed.is_set():
            try:
                item = results.get(timeout=PIPE_POLL)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            try:
                loop.call_soon_threadsafe(self.on_event, item)
            except RuntimeError:  # the loop has closed
                return

    async def _wait_ready(self, count: int) -> None:
        """Wait until every worker process has imported its engine (bounded)."""
        deadline = time.monotonic() + self.ready_timeout
        while len(self.ready) < count:
            dead = [i for i, p in enumerate(self._procs) if not p.is_alive()]
            if dead or time.monotonic() > deadline:
                self._kill()
                why = f"worker {dead[0]} exited with code {self._procs[dead[0]].exitcode}" if dead else "timed out"
                raise WorkerStartError(f"worker processes failed to start: {why}")
            self.ready_changed.clear()
            try:
                await asyncio.wait_for(self.ready_changed.wait(), READY_POLL)
            except asyncio.TimeoutError:
                continue

    async def _watch(self) -> None:
        """A worker process that ends without Done is Lost: at once if it crashed, after EXIT_WAIT if it
        exited cleanly (its final report and Done may still be in the pipe, in that order)."""
        exited_at: dict[int, float] = {}
        while True:
            await asyncio.sleep(LIVENESS_POLL)
            for i, proc in enumerate(self._procs):
                if i in self.done or i in self.lost or proc.is_alive():
                    continue
                if proc.exitcode == 0:
                    if time.monotonic() - exited_at.setdefault(i, time.monotonic()) > EXIT_WAIT:
                        self.lose(i, "exited but its last report never arrived", crashed=False)
                elif proc.exitcode is not None:
                    self.lose(i, f"exit code {proc.exitcode}")

    def send(self, command: Command) -> None:
        for control in self._controls:
            try:
                control.put(command)
            except (ValueError, OSError):  # the queue was closed: the worker is gone, Lost tells the run
                self.undelivered += 1

    def _kill(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()

    async def close(self, wait: float) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + wait
        for proc in self._procs:
            await loop.run_in_executor(None, proc.join, max(0.0, deadline - time.monotonic()))
        self._kill()
        for proc in self._procs:
            await loop.run_in_executor(None, proc.join, 1.0)
        self._closed.set()
