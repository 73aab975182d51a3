"""The ``ws_wait`` timeouts of a worker, on one loop timer.

A wait used to set a loop timer (``call_later``) and cancel it when its message came: 2.6 us a message on
uvloop, ~9 % of an echo. Here a wait takes a :class:`Deadline` (a slot in a queue, ~0.1 us), and one timer
``tick`` seconds apart wakes the waits whose time is up: a timeout is noticed at most ``tick`` late, as the
HTTP client's sweep does (``clients.fasthttp``). Deadlines are on the step's own clock
(``perf_counter_ns``), not the loop's (uvloop's ``loop.time()`` is read once a loop pass, to the
millisecond): a wait the sweep wakes has always run out by its step's reckoning, and takes no second slot.

One queue per timeout length: the deadlines of a queue come in the order they were taken, so the sweep
looks only at each queue's oldest, dropping the finished ones as it goes (a wait's slot is dropped when it
ends, or when its time is up).
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import perf_counter_ns

__all__ = ["Deadline", "WaitDeadlines"]

_ENDED = object()


class Deadline:
    """One wait's slot: its deadline (``perf_counter_ns``) and the future it waits on now (None between futures)."""

    __slots__ = ("at", "waiter")

    def __init__(self, at: int) -> None:
        self.at = at
        self.waiter: asyncio.Future | None = None

    def end(self) -> None:
        """The wait is over (matched, failed or cancelled): the sweep drops the slot when it meets it."""
        self.waiter = _ENDED  # type: ignore[assignment]


class WaitDeadlines:
    """The worker's wait deadlines; see the module's docstring."""

    def __init__(self) -> None:
        self._queues: dict[int, deque[Deadline]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.tick = 0.05
        """Seconds between sweeps: 50 ms, or a twentieth of the shortest timeout, at least 5 ms."""

    def take(self, timeout_ns: int, deadline_ns: int) -> Deadline:
        """A slot for a wait of step timeout ``timeout_ns`` (the queue) that runs out at ``deadline_ns``
        (``perf_counter_ns``)."""
        loop = self._loop or self._start()
        slot = Deadline(deadline_ns)
        queue = self._queues.get(timeout_ns)
        if queue is None:
            queue = self._queues[timeout_ns] = deque()
            self.tick = max(0.005, min(self.tick, timeout_ns / 20e9))
        queue.append(slot)
        if self._timer is None:
            self._timer = loop.call_later(self.tick, self._sweep)
        return slot

    def _start(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.get_running_loop()
        return self._loop

    def _sweep(self) -> None:
        loop = self._loop
        now = perf_counter_ns()
        pending = False
        for queue in self._queues.values():
            while queue:
                slot = queue[0]
                waiter = slot.waiter
                if waiter is _ENDED:
                    queue.popleft()
                elif slot.at <= now:
                    queue.popleft()
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                else:
                    break
            pending = pending or bool(queue)
        self._timer = loop.call_later(self.tick, self._sweep) if pending else None  # type: ignore[union-attr]

    def pending(self) -> int:
        """Slots not yet dropped (for tests): 0 once every wait has ended and a sweep has run."""
        return sum(len(q) for q in self._queues.values())

    @property
    def sweeping(self) -> bool:
        """Whether the sweep's timer is set (it stops when no slot is left)."""
        return self._timer is not None
