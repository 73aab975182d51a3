"""The run's clock: seconds since the run's start instant, computed locally on each host.

The main side picks the start instant (Unix time, ns) and sends it in :class:`~.messages.Start`; every
worker, in this process, another process or (later) another host, builds its own ``RunClock`` from it.
Readings come from the local monotonic clock (``perf_counter_ns``), so a wall-clock step during the run
moves nothing; only the origin is placed by wall time, once.
"""

from __future__ import annotations

import time

__all__ = ["RunClock"]

NS_PER_S = 1_000_000_000


class RunClock:
    """``elapsed()``: seconds since ``start_ns`` (Unix time, ns), read from the local monotonic clock."""

    __slots__ = ("start_ns", "origin_ns")

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        """The run's start instant, Unix time in ns: what travels between hosts."""
        self.origin_ns = time.perf_counter_ns() - (time.time_ns() - start_ns)
        """The same instant on this process's ``perf_counter_ns`` scale (what samples are timed with)."""

    @classmethod
    def now(cls) -> "RunClock":
        """A clock starting at this instant."""
        return cls(time.time_ns())

    def elapsed(self) -> float:
        """Seconds since the start instant."""
        return (time.perf_counter_ns() - self.origin_ns) / NS_PER_S

    @property
    def started_at(self) -> float:
        """The start instant as Unix time in seconds."""
        return self.start_ns / NS_PER_S
