"""The ``ws_wait`` timeouts of a worker, on one loop timer.

A wait used to set a loop timer (``call_later``) and cancel it when its message came: 2.6 us a message on
uvloop, ~9 % of an echo. Here a wait takes a :class:`Deadline` (a slot in a queue, ~0.1 us), and one timer
``tick`` seconds apart wakes the waits whose time is up: a timeout is noticed at most ``tick`` late, as the
HTTP client's sweep does (``clients.fasthttp``); the step still judges it by its own clock and records the
time it really waited.

One queue per timeout length: the deadlines of a queue come in the order they were taken, so the sweep
looks only at each queue's oldest, dropping the finished ones as it goes (a wait's slot is dropped when it
ends, or when its time is up).
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["Deadline", "WaitDeadlines"]

_ENDED = object()


class Deadline:
    """One wait's slot: its deadline (loop time) and the future it waits on now (None between futures)."""

    __slots__ = ("at", "waiter", "expired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.waiter: asyncio.Future | None = None
        self.expired = False
        """Its time was up at a sweep: the sweep has dropped it (a wait that goes on takes a new one)."""

    def end(self) -> None:
        """The wait is over (matched, failed or cancelled): the sweep drops the slot when it meets it."""
        self.waiter = _ENDED  # type: ignore[assignment]


class WaitDeadlines:
    """The worker's wait deadlines; see the module's docstring."""

    def __init__(self) -> None:
        self._queues: dict[float, deque[Deadline]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.tick = 0.05
        """Seconds between sweeps: 50 ms, or a twentieth of the shortest timeout, at least 5 ms."""

    def take(self, timeout: float, left: float) -> Deadline:
        """A slot for a wait of step timeout ``timeout`` (seconds, the queue) with ``left`` seconds to go."""
        loop = self._loop or self._start()
        slot = Deadline(loop.time() + left)
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
            self.tick = max(0.005, min(self.tick, timeout / 20))
        queue.append(slot)
        if self._timer is None:
            self._timer = loop.call_at(loop.time() + self.tick, self._sweep)
        return slot

    def _start(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.get_running_loop()
        return self._loop

    def _sweep(self) -> None:
        loop = self._loop
        now = loop.time()  # type: ignore[union-attr]
        pending = False
        for queue in self._queues.values():
            while queue:
                slot = queue[0]
                waiter = slot.waiter
                if waiter is _ENDED:
                    queue.popleft()
                elif slot.at <= now:
                    queue.popleft()
                    slot.expired = True
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                else:
                    break
            pending = pending or bool(queue)
        self._timer = loop.call_at(now + self.tick, self._sweep) if pending else None  # type: ignore[union-attr]

    def pending(self) -> int:
        """Slots not yet dropped (for tests): 0 once every wait has ended and a sweep has run."""
        return sum(len(q) for q in self._queues.values())

    @property
    def sweeping(self) -> bool:
        """Whether the sweep's timer is set (it stops when no slot is left)."""
        return self._timer is not None
