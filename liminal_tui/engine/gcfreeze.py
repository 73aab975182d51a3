"""Keep the cyclic garbage collector off long-lived connections (worker processes only).

A worker holding 10,000 WebSockets keeps ~72 gc-tracked objects per connection alive for the run (the
websockets connection and protocol, their streams and assembler, the reader task, a deque, an Event).
CPython's full collections walk every one of them: measured 0.1-1.7 s per collection at 5,000
connections per worker, every few seconds during the hold, each one an event-loop stall that shows up
as heartbeat RTT and as a "saturated" second (docs/PERFORMANCE.md, "WebSockets at scale").

So every tick in which more WebSockets are open than ever before, the worker collects its young
generations and moves what is alive to the permanent generation (``gc.freeze``), which full
collections skip; until a tick opens no new connection, that is the only collection (automatic ones
are off). The first freeze also happens once the users have ramped up (the worker's own long-lived
objects). When users are retired (a stage or a live change lowers the load), ``gc.unfreeze`` hands
everything back to the collector, so retired connections are freed. Frozen objects that become
garbage while frozen are freed by reference counting as usual; only cycles among them wait for the
next unfreeze (or the end of the worker process).
"""

from __future__ import annotations

import gc

__all__ = ["GcFreezer", "FREEZE_AFTER"]

FREEZE_AFTER = 1.0
"""Seconds into the run before the first freeze (the load must have ramped up, too)."""
YOUNG_THRESHOLD = 10_000
"""Generation-0 threshold once frozen (CPython's default is 700): 1,000 heartbeats a second keep ~10,000
short-lived objects in flight (a ping's task, its pong's future, a timeout), which a collection every 700
allocations keeps catching alive and promoting; fewer, larger young collections let them die first."""


class GcFreezer:
    """Called once a tick with the worker's figures; freezes, unfreezes, or does nothing."""

    def __init__(self) -> None:
        self.frozen = False
        self.freezes = 0
        self.growing = False
        """Connections opened this tick: automatic collections are off."""
        self._ws_open = 0
        """WebSockets open at the last freeze (the peak so far, since the last unfreeze)."""
        self._users = 0
        """Users active at the last freeze: fewer than this means users were retired."""

    def tick(self, t: float, users: int, target: float, ws_open: int) -> None:
        if self.frozen and users < self._users:
            gc.unfreeze()  # users retired: what they leave must be collectable
            self._growing(False)
            self.frozen = False
            self._ws_open, self._users = ws_open, users
            return
        if not self.frozen:
            self._ws_open = min(self._ws_open, ws_open)  # after an unfreeze: growth counts from the low point
        ramped = t >= FREEZE_AFTER and users >= int(target)
        if ws_open > self._ws_open or (ramped and not self.frozen and self.freezes == 0):
            # The young generations (automatic collections are off while connections open, so that is
            # everything since the last freeze): its garbage must not be frozen. Each new object is
            # walked once (~72 objects, ~100 us per connection opened).
            gc.collect(1)
            gc.freeze()
            if self.freezes == 0:
                _, older, oldest = gc.get_threshold()
                gc.set_threshold(max(YOUNG_THRESHOLD, gc.get_threshold()[0]), older, oldest)
            self._growing(True)
            self.frozen = True
            self.freezes += 1
            self._ws_open, self._users = max(self._ws_open, ws_open), max(self._users, users)
        elif self.growing:
            self._growing(False)

    def _growing(self, on: bool) -> None:
        """While connections open, no automatic collections: the tick's ``collect(1)`` walks each new object
        once, before it is frozen; automatic ones would walk the half-open connections over and over
        (measured 100-900 ms each, several a second, during a ramp of 1,000 connections a second)."""
        if on:
            gc.disable()
        else:
            gc.enable()
        self.growing = on
