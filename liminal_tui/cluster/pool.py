"""The cluster pool: a :class:`~liminal_tui.engine.pool.WorkerPool` whose workers are hosts on Dask.

    pool = ClusterPool(parse_cluster("tcp://head:8786"), workers_per_host=1)
    hosts = await pool.connect(url)   # agents placed, versions equal, target reachable from every host
    ... then what any pool does: start(specs, emit), send(command), close(wait); summary() for the report

Each host is one worker of the run (index = host number): its agent merges its processes' reports into
one a tick. The coordinator chooses the start instant (``start_lead`` ahead), measures every host's clock
offset at start and every minute, and declares a host lost when it dies (the next call fails) or stops
reporting for ``deadline_ticks`` ticks (a frozen host: Dask itself notices only after minutes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal, Sequence

from distributed import Client, LocalCluster

from .. import __version__
from ..engine.messages import Abort, Command, Done, Failed, IntervalReport, Lost, Ready, Start, Stop
from ..engine.pool import Emit, WorkerStartError, _stderr_with_descriptor
from ..engine.preflight import PreflightError
from ..engine.worker import WorkerSpec
from . import ClusterAddress, ClusterError
from .agent import Agent
from .hosts import Host, hosts_section, measure_offset

__all__ = ["ClusterPool"]

CONNECT_TIMEOUT = 10.0
"""Seconds to reach the scheduler (and, for ``local:N``, to start the local cluster)."""
WORKERS_WAIT = 10.0
"""Seconds to wait for at least one Dask worker on a scheduler that has none yet."""
START_LEAD = 0.3
"""Seconds ahead of now the start instant is placed, so that every host has it before it comes."""
DEADLINE_TICKS = 3
"""Ticks without a report after which a host is lost, whatever Dask thinks."""
CLOCK_EVERY = 60.0
"""Seconds between clock-offset measurements during the run."""
CALL_TIMEOUT = 10.0
"""Seconds an agent call at start or close may take."""
EXIT_ENGINE = 4


class ClusterPool:
    """One agent per Dask worker; hosts are the run's workers."""

    in_process = False
    start_lead = START_LEAD

    def __init__(self, address: ClusterAddress, workers_per_host: int | Literal["auto"] = 1, *,
                 deadline_ticks: int = DEADLINE_TICKS, clock_every: float = CLOCK_EVERY,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        """Seconds to reach the scheduler (Dask retries a refused connection until then)."""
        self.workers_per_host = workers_per_host
        """Worker processes per host: a number, ``auto`` (one per core there) or 0 (in the agent's thread)."""
        self.deadline_ticks = deadline_ticks
        self.clock_every = clock_every
        self.hosts: list[Host] = []
        self.joined_unused: list[str] = []
        """Dask workers that joined after the start (e.g. a nanny's replacement): never given load."""
        self.undelivered = 0
        """Commands an agent could not be given (its host was gone; the poll reports it lost)."""
        self.clock_failures = 0
        """Clock measurements that failed (the host's poll fails the same way and reports it lost)."""
        self._cluster: Any = None
        self._client: Any = None
        self._actors: list[Any] = []
        self._emit: Emit = lambda event: None
        self._done: set[int] = set()
        self._lost: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._outboxes: list[asyncio.Queue[Command]] = []
        self._tick = 1.0
        self._start_ns: int | None = None
        self._start_mono: float | None = None
        self._stopping_mono: float | None = None
        self._covered = 0.0

    # -- before the run -------------------------------------------------------------------------------
    async def connect(self, target_url: str) -> int:
        """Reach the cluster, place an agent on every worker, check versions and the target from every
        host, measure clocks. Returns the number of hosts. Raises ClusterError or PreflightError."""
        try:
            await self._connect(target_url)
        except BaseException:
            await self._shutdown()
            raise
        return len(self.hosts)

    async def _connect(self, target_url: str) -> None:
        address = self.address.scheduler
        if address is None:
            try:
                with _stderr_with_descriptor():  # the app: Textual's stderr has no descriptor for spawn
                    self._cluster = await asyncio.wait_for(LocalCluster(
                        n_workers=self.address.local_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, asynchronous=True, silence_logs=logging.ERROR), CONNECT_TIMEOUT * 3)
            except (OSError, asyncio.TimeoutError, RuntimeError) as exc:
                raise ClusterError(f"cannot start a local Dask cluster: {exc or type(exc).__name__}", EXIT_ENGINE) from None
            address = self._cluster.scheduler_address
        try:
            self._client = await asyncio.wait_for(
                Client(address, asynchronous=True, timeout=self.connect_timeout, direct_to_workers=True),
                self.connect_timeout + 1)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc or 'timed out'}", EXIT_ENGINE) from None
        addresses = await self._worker_addresses(self.address.local_workers or 1)
        futures = [self._client.submit(Agent, actor=True, workers=[a], allow_other_workers=False, pure=False,
                                       key=f"liminal-agent-{i}-{time.time_ns()}") for i, a in enumerate(addresses)]
        self._actors = futures  # the agents live as long as their futures are held
        # An actor handle calls its worker through the client current when it is made: ours, which goes
        # straight to the workers (direct_to_workers), not through the scheduler (a hop more, and its load).
        with self._client.as_current():
            agents = await asyncio.wait_for(asyncio.gather(*futures), CALL_TIMEOUT)
        hellos = await asyncio.wait_for(asyncio.gather(*(a.hello() for a in agents)), CALL_TIMEOUT)
        for i, (addr, agent, hello) in enumerate(zip(addresses, agents, hellos)):
            n = hello["cores"] if self.workers_per_host == "auto" else int(self.workers_per_host)
            self.hosts.append(Host(i, addr, hello["hostname"], hello["version"], max(1, n), pid=hello["pid"],
                                   in_process=n == 0, agent=agent))
        wrong = [h for h in self.hosts if h.version != __version__]
        if wrong:
            listed = ", ".join(f"{h.name} has {h.version}" for h in wrong)
            raise ClusterError(f"liminal-tui versions differ: this host has {__version__}; {listed}. "
                               "Install the same version on every host.")
        problems = await asyncio.gather(*(h.agent.check(target_url) for h in self.hosts))
        for host, problem in zip(self.hosts, problems):
            if problem:
                raise PreflightError(f"from host {host.name}: {problem}")
        await self._measure_clocks(self.hosts)

    async def _worker_addresses(self, at_least: int) -> list[str]:
        try:
            await self._client.wait_for_workers(at_least, timeout=WORKERS_WAIT)
        except (asyncio.TimeoutError, TimeoutError):
            raise ClusterError(f"no Dask worker joined the scheduler at {self.address} within {WORKERS_WAIT:g}s",
                               EXIT_ENGINE) from None
        # scheduler_info() can still be empty right after wait_for_workers in asynchronous mode.
        identity = await self._client.scheduler.identity()
        return sorted(identity["workers"])

    async def _measure_clocks(self, hosts: Sequence[Host]) -> None:
        results = await asyncio.gather(*(measure_offset(h.agent.clock) for h in hosts), return_exceptions=True)
        for host, result in zip(hosts, results):
            if isinstance(result, BaseException):
                self.clock_failures += 1
                continue
            offset, rtt = result
            host.offsets_ms.append(offset)
            host.rtt_ms = rtt

    # -- the WorkerPool calls -------------------------------------------------------------------------
    async def start(self, specs: Sequence[WorkerSpec], emit: Emit) -> None:
        if len(specs) != len(self.hosts):
            raise WorkerStartError(f"the run has {len(specs)} worker(s) for {len(self.hosts)} host(s)")
        self._emit = emit
        template = specs[0]
        self._tick = template.tick
        total = sum(h.processes for h in self.hosts)
        first = 0
        begins = []
        for host in self.hosts:
            local = [WorkerSpec(first + j, total, template.profile, template.base_url, template.tick, template.grace)
                     for j in range(host.processes)]
            first += host.processes
            begins.append(host.agent.begin(host.index, local, host.offset_ns, host.in_process,
                                           ignore_interrupts=self._cluster is not None))
        results = await asyncio.gather(*begins, return_exceptions=True)
        for host, result in zip(self.hosts, results):
            if isinstance(result, BaseException):
                await self._shutdown()
                raise WorkerStartError(f"host {host.name} could not start its workers: {type(result).__name__}: {result}")
        now = time.monotonic()
        for host in self.hosts:
            host.last_answer = now
            outbox: asyncio.Queue[Command] = asyncio.Queue()
            self._outboxes.append(outbox)
            self._spawn(self._send_loop(host, outbox))
            emit(Ready(host.index))
        for host in self.hosts:
            self._spawn(self._poll(host))
        self._spawn(self._watch())
        self._spawn(self._clock_loop())

    def send(self, command: Command) -> None:
        if isinstance(command, Start):
            self._start_ns = command.at_ns
            self._start_mono = time.monotonic() + (command.at_ns - time.time_ns()) / 1e9
        elif isinstance(command, (Stop, Abort)) and self._stopping_mono is None:
            self._stopping_mono = time.monotonic()
        for host, outbox in zip(self.hosts, self._outboxes):
            if host.index not in self._lost and host.index not in self._done:
                outbox.put_nowait(command)

    async def close(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while self._live() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self._note_newcomers()
        closing = [h for h in self.hosts if h.index not in self._lost]
        results = await asyncio.gather(
            *(asyncio.wait_for(h.agent.close(max(0.0, deadline - time.monotonic())), CALL_TIMEOUT) for h in closing),
            return_exceptions=True)
        for host, result in zip(closing, results):
            if isinstance(result, BaseException):
                self._emit_failed(host, f"closing its agent: {type(result).__name__}: {result}")
        await self._shutdown()

    def summary(self) -> dict[str, Any]:
        """summary.json's ``hosts`` and ``clock`` sections."""
        return hosts_section(self.hosts, self._covered, self.joined_unused)

    # -- while running --------------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def _live(self) -> list[Host]:
        return [h for h in self.hosts if h.index not in self._lost and h.index not in self._done]

    def _run_time(self) -> float:
        return (time.time_ns() - self._start_ns) / 1e9 if self._start_ns is not None else 0.0

    def _lose(self, host: Host, reason: str) -> None:
        if host.index in self._lost or host.index in self._done:
            return
        self._lost.add(host.index)
        host.lost_at, host.lost_reason = self._run_time(), reason
        self._emit(Lost(host.index, f"host {host.name}: {reason}"))

    def _emit_failed(self, host: Host, error: str) -> None:
        self._emit(Failed(host.index, f"host {host.name}: {error}"))

    async def _send_loop(self, host: Host, outbox: asyncio.Queue[Command]) -> None:
        """Commands to one host, in order."""
        while True:
            command = await outbox.get()
            try:
                await host.agent.command(command)
            except Exception:  # its poll fails the same way and reports the host lost
                self.undelivered += 1

    async def _poll(self, host: Host) -> None:
        wait = min(0.5, self._tick)
        while host.index not in self._lost:
            try:
                events = await host.agent.poll(wait)
            except Exception as exc:  # a dead worker: OSError (CommClosedError) within milliseconds
                self._lose(host, f"lost ({type(exc).__name__}: {exc})")
                return
            host.last_answer = time.monotonic()
            if host.index in self._lost:
                return  # declared lost (frozen) while this call waited: what it says now is not counted
            for event in events:
                if isinstance(event, Lost):
                    self._lose(host, event.reason)
                    return
                if isinstance(event, IntervalReport):
                    host.add(event)
                    event = host.labelled(event)
                    self._covered = max(self._covered, event.t_end)
                elif isinstance(event, Done):
                    self._done.add(host.index)
                self._emit(event)
            if host.index in self._done:
                return

    async def _watch(self) -> None:
        """A host that stops reporting for ``deadline_ticks`` ticks is lost (after Stop no reports come
        during the grace period: then the deadline counts from its last answer to a poll)."""
        limit = self.deadline_ticks * self._tick
        while True:
            await asyncio.sleep(self._tick / 4)
            now = time.monotonic()
            if self._start_mono is None or now < self._start_mono:
                continue
            for host in self._live():
                if self._stopping_mono is None:
                    if now - max(host.last_report, self._start_mono) > limit:
                        self._lose(host, f"no report for {self.deadline_ticks} ticks ({limit:g}s): frozen or cut off")
                elif now - max(host.last_answer, self._stopping_mono) > limit:
                    self._lose(host, f"no answer for {self.deadline_ticks} ticks ({limit:g}s) while stopping")

    async def _clock_loop(self) -> None:
        while True:
            await asyncio.sleep(self.clock_every)
            await self._measure_clocks(self._live())
            await self._note_newcomers()

    async def _note_newcomers(self) -> None:
        if self._client is None:
            return
        try:
            identity = await asyncio.wait_for(self._client.scheduler.identity(), CALL_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            return  # the scheduler is gone: the hosts' polls say what that means for the run
        known = {h.address for h in self.hosts} | set(self.joined_unused)
        self.joined_unused.extend(sorted(set(identity["workers"]) - known))

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []
        self._actors = []
        for thing in (self._client, self._cluster):
            if thing is not None:
                try:
                    await asyncio.wait_for(thing.close(), CALL_TIMEOUT)
                except (OSError, asyncio.TimeoutError, RuntimeError) as exc:
                    logging.getLogger(__name__).warning("closing %s: %s", type(thing).__name__, exc)
        self._client = self._cluster = None
