"""The agent: one per Dask worker (a Dask actor), running the existing local engine on that host.

The actor's methods are ``async`` and only hand things over: Dask runs them on the worker's own event
loop, beside its heartbeats, so the load runs elsewhere: in the agent's own thread, with its own event
loop, driving a :class:`~liminal_tui.engine.pool.ProcessPool` (one process per core there, or
``--workers`` per host) or, for ``workers = 0``, an in-process pool in that thread.

    coordinator                      Dask worker loop (actor methods)      agent thread (own loop)
    begin(host, specs, offset) ───►  start the thread, wait for Ready ───► ProcessPool.start
    command(Start/SetLoad/...) ───►  call_soon_threadsafe ───────────────► pool.send (Start: at the instant)
    poll(wait)                 ◄───  outbox (merged reports, Failed, Done) ◄── merge per tick
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import signal
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from .. import __version__
from ..engine.messages import Command, Done, Failed, IntervalReport, Lost, Ready, Start, WorkerEvent
from ..engine.pool import InProcessPool, ProcessPool, WorkerPool
from ..engine.preflight import PreflightError, preflight
from ..engine.worker import WorkerSpec
from . import VERSION_ENV
from .merge import merge_reports

__all__ = ["Agent", "HostMerger"]


def host_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class HostMerger:
    """Turns the events of a host's worker processes into the host's own: one report per tick (merged
    once every live process has sent that tick), Failed for a part that failed, then Done (or Lost)."""

    def __init__(self, host: int, workers: Sequence[int], deliver: Callable[[WorkerEvent], None]) -> None:
        self.host = host
        self.deliver = deliver
        self.live = set(workers)
        self._done: set[int] = set()
        self._highest: dict[int, int] = {}
        self._pending: dict[int, list[IntervalReport]] = {}
        self._t_end = 0.0

    def on_event(self, event: WorkerEvent) -> None:
        if isinstance(event, IntervalReport):
            self._pending.setdefault(event.tick, []).append(event)
            self._highest[event.worker] = max(event.tick, self._highest.get(event.worker, 0))
            self._flush()
        elif isinstance(event, Failed):
            self.deliver(Failed(self.host, f"worker process {event.worker}: {event.error}"))
        elif isinstance(event, Done):
            self._done.add(event.worker)
            self._end(event.worker)
        elif isinstance(event, Lost):
            self.deliver(Failed(self.host, f"worker process {event.worker} lost ({event.reason}); "
                                           "its share of this host's load is missing"))
            self._end(event.worker)
        # Ready: the host is Ready when its pool has started (the agent says so)

    def _end(self, worker: int) -> None:
        if worker not in self.live:
            return
        self.live.discard(worker)
        self._flush()
        if not self.live:
            if self._done:
                self.deliver(Done(self.host))
            else:
                self.deliver(Lost(self.host, "every worker process on the host was lost"))

    def _flush(self) -> None:
        upto = min((self._highest.get(w, 0) for w in self.live), default=None)
        for tick in sorted(self._pending):
            if upto is not None and tick > upto:
                break
            merged = merge_reports(self.host, self._pending.pop(tick), self._t_end)
            self._t_end = merged.t_end
            self.deliver(merged)


@contextmanager
def _may_have_children() -> Iterator[None]:
    """A Dask worker process is daemonic, and multiprocessing refuses children to daemons (they would be
    orphaned). Our worker processes watch their parent and abort when it is gone, so the rule is lifted
    while they are spawned, and only then."""
    proc = multiprocessing.current_process()
    was = proc.daemon
    if was:
        proc.daemon = False
    try:
        yield
    finally:
        if was:
            proc.daemon = True


class _HostEngine:
    """The agent's thread: its own event loop running the host's local pool."""

    def __init__(self, host: int, specs: list[WorkerSpec], offset_ns: int, in_process: bool,
                 deliver: Callable[[WorkerEvent], None]) -> None:
        self.host = host
        self.specs = specs
        self.offset_ns = offset_ns
        """This host's clock minus the coordinator's (ns): the coordinator's instant ``t`` is ``t + offset`` here."""
        self.in_process = in_process
        self.merger = HostMerger(host, [s.index for s in specs], deliver)
        self.started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool: WorkerPool | None = None
        self._closed: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"liminal-agent-{host}")
        self.thread.start()

    def _main(self) -> None:
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        pool: WorkerPool = InProcessPool() if self.in_process else ProcessPool()
        try:
            with _may_have_children():
                await pool.start(self.specs, self.merger.on_event)
        except BaseException as exc:
            self.started.set_exception(exc)
            return
        self.pool = pool
        self.started.set_result(None)
        await self._closed.wait()

    def send(self, command: Command) -> None:
        """From any thread: hand ``command`` to the local pool (Start: at its instant on this host's clock)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._obey, command)

    def _obey(self, command: Command) -> None:
        assert self.pool is not None
        if isinstance(command, Start):
            task = asyncio.ensure_future(self._start_at(command.at_ns + self.offset_ns))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self.pool.send(command)

    async def _start_at(self, local_ns: int) -> None:
        """Start the load when this host's clock reaches the coordinator's start instant."""
        assert self.pool is not None
        delay = (local_ns - time.time_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        self.pool.send(Start(local_ns))

    def close(self, wait: float) -> concurrent.futures.Future[None]:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self._close(wait), self.loop)

    async def _close(self, wait: float) -> None:
        try:
            if self.pool is not None:
                await self.pool.close(wait)
        finally:
            assert self._closed is not None
            self._closed.set()


class Agent:
    """A Dask actor placed on one worker. Every method is ``async`` and returns at once (or, ``poll``,
    when there is something to return): the work happens in the agent's own thread."""

    def __init__(self) -> None:
        self._outbox: list[WorkerEvent] = []
        self._lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: _HostEngine | None = None

    async def hello(self) -> dict[str, Any]:
        """Who this host is: the version it runs, its name, cores and process id."""
        return {
            "version": os.environ.get(VERSION_ENV) or __version__,
            "hostname": socket.gethostname(),
            "cores": host_cores(),
            "pid": os.getpid(),
        }

    async def clock(self) -> int:
        """This host's wall clock, Unix ns (the coordinator takes the round trip's midpoint)."""
        return time.time_ns()

    async def check(self, url: str) -> str | None:
        """Can this host reach the target? None, or why not (one line)."""
        try:
            await preflight(url)
        except PreflightError as exc:
            return str(exc)
        return None

    async def begin(self, host: int, specs: list[WorkerSpec], offset_ns: int, in_process: bool,
                    ignore_interrupts: bool = False) -> None:
        """Start the host's worker processes; return once they are all Ready (or raise why not).

        ``ignore_interrupts``: this Dask worker is a child of the coordinator (``local:N``), in its process
        group: Ctrl-C in the terminal reaches it too, and the coordinator decides what happens."""
        if ignore_interrupts and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._engine = _HostEngine(host, specs, offset_ns, in_process, self._deliver)
        await asyncio.wrap_future(self._engine.started)

    def _deliver(self, event: WorkerEvent) -> None:
        """From the agent's thread: queue an event for the coordinator's next poll."""
        if isinstance(event, Ready):
            return
        with self._lock:
            self._outbox.append(event)
        assert self._loop is not None and self._wake is not None
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the Dask worker's loop has closed: nobody will poll again
            pass

    async def command(self, command: Command) -> None:
        if self._engine is not None:
            self._engine.send(command)

    async def poll(self, wait: float) -> list[WorkerEvent]:
        """The events since the last poll; waits up to ``wait`` seconds for one if there are none."""
        assert self._wake is not None
        with self._lock:
            empty = not self._outbox
        if empty:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass
        with self._lock:
            events, self._outbox = self._outbox, []
        return events

    async def close(self, wait: float) -> None:
        """Give the worker processes ``wait`` seconds to end, then end them."""
        if self._engine is not None and self._engine.loop is not None:
            await asyncio.wrap_future(self._engine.close(wait))
