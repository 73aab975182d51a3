"""The WebSocket heartbeats of a worker: every connection's ping at one interval, on one loop timer."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ws import WsConnection

__all__ = ["Heartbeats", "PING_BATCH"]

PING_BATCH = 50
"""Heartbeat pings started in one go: connections opened in a burst come due in a burst, and starting
1,000 pings at once (~50 us each) would hold the event loop for 50 ms, every interval."""


class Heartbeats:
    """Every connection's heartbeat at one interval, on one timer (one per worker, run and interval).

    A connection is due ``interval`` seconds after its previous pong (or after it opened); one loop
    timer, set for the earliest due connection, starts the pings that are due, each in a short task
    that lives for one round trip. Compared with a task per connection sleeping between pings, 10,000
    connections keep no sleeping task, future and timer each alive for seconds at a time, which the
    cyclic collector otherwise keeps promoting and walking (docs/PERFORMANCE.md: "WebSockets at scale").
    Connections are due in the order they were added (same interval), so two deques are the schedule.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._due: deque[float] = deque()
        self._conns: deque[WsConnection] = deque()
        self._live = 0
        """Connections on the schedule that have not closed (none left: the timer is dropped)."""
        self._timer: asyncio.Handle | None = None

    def join(self) -> None:
        self._live += 1

    def leave(self) -> None:
        self._live -= 1
        if self._live <= 0:
            self._live = 0
            self._due.clear()
            self._conns.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def add(self, conn: WsConnection) -> None:
        """``conn`` is due one interval from now."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.interval
        self._due.append(due)
        self._conns.append(conn)
        if self._timer is None:
            self._timer = loop.call_at(due, self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time() + 0.0005  # timers fire on a 1-ms grid: what is due within it goes now
        due, conns = self._due, self._conns
        started = 0
        while due and due[0] <= now:
            if started == PING_BATCH:  # more due at once: the rest after the loop has run the others
                self._timer = loop.call_soon(self._fire, loop)
                return
            due.popleft()
            conns.popleft().beat()
            started += 1
        if due:
            self._timer = loop.call_at(due[0], self._fire, loop)
