"""Load models: how many virtual users (closed) or iterations a second (open), and when.

``LoadShape`` answers "what should the load be at second t" from the profile's load settings (stages,
spawn rate) and any live override. ``ClosedLoad`` keeps that many users looping; ``OpenLoad`` starts
iterations at that rate, each timed from its *intended* start (coordinated-omission correction).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import Any, Awaitable, Callable

from ..profile.models import LoadModel
from .steps import User

__all__ = ["LoadShape", "ClosedLoad", "OpenLoad"]

TICK = 0.05
EARLY_NS = 1_000_000


class LoadShape:
    """Target users or rate over time, for one worker's share of the load."""

    def __init__(self, load: LoadModel, share: float) -> None:
        self.model = load.model
        self.share = share
        self.stages = [(s.duration, s.target * share) for s in load.stages]
        self.base = (load.users if load.model == "closed" else load.rate) * share
        self.spawn_rate = load.spawn_rate * share if load.model == "closed" else 0.0
        self.override: float | None = None
        self._override_from = 0.0
        self._override_at = 0.0

    def set(self, value: float, now: float) -> None:
        """A live change (already this worker's share): ramp there at the spawn rate, then hold."""
        self._override_from = self.at(now)
        self._override_at = now
        self.override = max(0.0, value)

    def at(self, t: float) -> float:
        if self.override is not None:
            if self.model == "open" or self.spawn_rate <= 0:
                return self.override
            moved = (t - self._override_at) * self.spawn_rate
            lo, hi = self._override_from, self.override
            return min(hi, lo + moved) if hi >= lo else max(hi, lo - moved)
        if self.stages:
            prev, start = 0.0 if self.model == "closed" else self.stages[0][1], 0.0
            for duration, target in self.stages:
                if t < start + duration:
                    return prev + (target - prev) * (t - start) / duration
                prev, start = target, start + duration
            return prev
        if self.model == "closed":
            return min(self.base, t * self.spawn_rate) if self.spawn_rate > 0 else self.base
        return self.base


Iteration = Callable[[User], Awaitable[None]]


class ClosedLoad:
    """Virtual users that loop over the scenarios until asked to stop."""

    def __init__(self, shape: LoadShape, iteration: Iteration, new_user: Callable[[int], User],
                 think: tuple[float, float], first_user: int, slot: int = 0) -> None:
        self.shape = shape
        self.slot = slot
        """This worker's number among the run's workers, all of the same share ``u``: worker ``i`` runs
        ``floor(u*(i+1)) - floor(u*i)`` users, so the workers' users add up to the run's exactly (3 users on
        2 workers: 1 and 2, not 1 and 1; 100 users on 400 workers: 100, not 0)."""
        self.iteration = iteration
        self.new_user = new_user
        self.think = think
        self._next_number = first_user
        self._tasks: dict[User, asyncio.Task[None]] = {}
        """Every user whose task has not ended (a done callback removes it): ``active`` is its size."""
        self._running: dict[User, None] = {}
        """Users not asked to stop, oldest first (an ordered set): retiring takes the newest."""
        self._thinking: set[User] = set()
        self.iterations = 0

    @property
    def active(self) -> int:
        return len(self._tasks)

    def target(self, t: float) -> float:
        return self.shape.at(t)

    def adjust(self, t: float) -> None:
        """Start or retire users to match the shape at ``t`` (called every TICK).

        O(users started or retired), not O(users): at 10,000 held WebSockets, rebuilding the user
        lists every 50 ms cost 1-2 ms a tick and made 10,000 short-lived tuples a tick, which kept the
        cyclic collector running full collections over the live connections (see docs/PERFORMANCE.md).
        """
        share = self.shape.at(t)  # this worker's slot of the total: the workers' counts add up to it
        want = int(share * (self.slot + 1) + 1e-9) - int(share * self.slot + 1e-9)
        running = self._running
        while len(running) < want:
            user = self.new_user(self._next_number)
            self._next_number += 1
            task = asyncio.ensure_future(self._loop(user))
            self._tasks[user] = task
            running[user] = None
            task.add_done_callback(lambda _t, u=user: self._ended(u))
        while len(running) > want:
            user, _ = running.popitem()  # the newest
            self._retire(user)

    def _retire(self, user: User) -> None:
        user.stopping = True
        if user in self._thinking or user.holding:
            task = self._tasks.get(user)
            if task is not None:
                task.cancel()

    def _ended(self, user: User) -> None:
        self._tasks.pop(user, None)
        self._running.pop(user, None)

    async def _loop(self, user: User) -> None:
        lo, hi = self.think
        try:
            while not user.stopping:
                await self.iteration(user)
                self.iterations += 1
                user.vars["iteration"] += 1
                if hi > 0 and not user.stopping:
                    self._thinking.add(user)
                    try:
                        await asyncio.sleep(lo if hi == lo else random.uniform(lo, hi))
                    except asyncio.CancelledError:
                        if not user.stopping:
                            raise
                    finally:
                        self._thinking.discard(user)
                elif not user.vars["iteration"] & 15:
                    # An iteration may finish without ever suspending (ws_send only buffers; a step
                    # that fails at once): yield now and then, or this user starves the event loop.
                    # Every 16th iteration, not every one: the yield costs ~5 us a request.
                    await asyncio.sleep(0)
        finally:
            await user.close()

    def stop(self) -> None:
        """No new iterations; users pausing between iterations leave at once."""
        self._running.clear()
        for user in list(self._tasks):
            self._retire(user)

    def tasks(self) -> list[asyncio.Task[None]]:
        return [t for t in self._tasks.values() if not t.done()]


class OpenLoad:
    """Iterations started at a rate; at most ``max_in_flight`` at once, later arrivals wait (bounded)."""

    def __init__(self, shape: LoadShape, iteration: Iteration, new_user: Callable[[int], User],
                 max_in_flight: int, first_user: int) -> None:
        self.shape = shape
        self.iteration = iteration
        self.new_user = new_user
        self.max_in_flight = max(1, max_in_flight)
        self._number = first_user
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog: deque[int] = deque()
        self._next_ns: int | None = None
        self.iterations = 0
        self.dropped = 0
        self.stopping = False

    @property
    def active(self) -> int:
        return len(self._tasks)

    def target(self, t: float) -> float:
        return self.shape.at(t)

    def adjust(self, t: float, t0_ns: int) -> None:
        """Schedule every arrival whose intended time has come (called every TICK)."""
        if self.stopping:
            return
        now = time.perf_counter_ns()
        if self._next_ns is None:
            self._next_ns = t0_ns
        rate_limit = max(1, int(self.shape.at(t) * 10))  # backlog holds at most 10 s of arrivals
        # Arrivals up to 1 ms ahead start now: timers have 1 ms resolution, so waiting for the exact
        # instant adds ~0.8 ms of lateness; an early start counts as on time (lag is clamped at 0).
        while self._next_ns <= now + EARLY_NS:
            rate = self.shape.at((self._next_ns - t0_ns) / 1e9)
            if rate <= 0:
                self._next_ns = now + int(TICK * 1e9)
                break
            if len(self._tasks) < self.max_in_flight:
                self._launch(self._next_ns)
            elif len(self._backlog) < rate_limit:
                self._backlog.append(self._next_ns)
            else:
                self.dropped += 1
            self._next_ns += int(1e9 / rate)

    def due_in(self) -> float:
        """Seconds until the next arrival is due (the worker wakes then, so it starts on time)."""
        if self._next_ns is None or self.stopping:
            return TICK
        return max(0.0, (self._next_ns - EARLY_NS - time.perf_counter_ns()) / 1e9)

    def _launch(self, intended_ns: int) -> None:
        user = self.new_user(self._number)
        self._number += 1
        task = asyncio.ensure_future(self._run(user, intended_ns))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _run(self, user: User, intended_ns: int) -> None:
        user.schedule_lag_ns = max(0, time.perf_counter_ns() - intended_ns)
        try:
            await self.iteration(user)
            self.iterations += 1
        finally:
            await user.close()

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._backlog and not self.stopping:
            self._launch(self._backlog.popleft())

    def stop(self) -> None:
        self.stopping = True
        self._backlog.clear()

    def tasks(self) -> list[asyncio.Task[None]]:
        return [t for t in self._tasks if not t.done()]
