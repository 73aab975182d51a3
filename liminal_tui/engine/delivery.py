"""What a ``ws_wait`` adds for broadcasts: delivery latency from the server's send stamp, and never the
same message twice.

**Delivery.** A message that carries its send time (``stamp = "sent_ns"``) is timed from that stamp to
its arrival here. Arrival is kept as ``perf_counter_ns`` (the read loop's clock, see
:mod:`.clients.ws`); it is put on the stamp's clock by the offset between the two clocks, read when the
message is matched (a few microseconds later: only a step of the wall clock in between would show).
On Linux ``perf_counter`` is ``CLOCK_MONOTONIC``, so a ``monotonic`` stamp's offset is ~0.

**Once.** A wait that repeats with ``since = "previous"`` (a listener looping on one ``ws_wait``) looks
from its own previous start, which lies before the message it matched then: without a floor it would
match that message a second time. :class:`MatchFloor` keeps, per connection, the arrival of the message
the step last matched; the next run looks only after it. After an HTTP update the floor is below the
update's start anyway, so the documented use is unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from ..metrics.recorder import EndpointRecorder
from .jsonpath import json_path

__all__ = ["StampReader", "MatchFloor", "stamp_ns"]

_SCALE = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def stamp_ns(value: Any, unit: str) -> int | None:
    """A stamp (a number, or a string of one) in ns; None when it is not a number. ``auto``: a Unix time
    in s, ms, us or ns, told apart by size (now is ~1.7e9 s, 1.7e12 ms, 1.7e15 us, 1.7e18 ns)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return None
    if isinstance(value, int):
        if unit == "auto":
            unit = "ns" if value > 10**17 else "us" if value > 10**14 else "ms" if value > 10**11 else "s"
        return value * _SCALE[unit]
    if isinstance(value, float) and value == value and abs(value) < 1e20:
        if unit == "auto":
            unit = "ns" if value > 1e17 else "us" if value > 1e14 else "ms" if value > 1e11 else "s"
        return round(value * _SCALE[unit])
    return None


class StampReader:
    """Reads a matched message's send stamp and records its delivery on the endpoint."""

    __slots__ = ("path", "unit", "clock")

    def __init__(self, path: str, unit: str, clock: str) -> None:
        self.path = path
        self.unit = unit
        self.clock = time.monotonic_ns if clock == "monotonic" else time.time_ns

    def record(self, msg: Any, rec: EndpointRecorder) -> bool:
        """Record ``msg``'s delivery (arrival minus stamp) on ``rec``; False when it has no usable stamp."""
        doc = msg.json
        sent = stamp_ns(json_path(doc, self.path), self.unit) if doc is not None else None
        if sent is None:
            return False
        before = time.perf_counter_ns()
        now = self.clock()
        offset = now - ((before + time.perf_counter_ns()) >> 1)  # the stamp's clock minus perf_counter
        rec.delivered(msg.at_ns + offset - sent)
        return True


class MatchFloor:
    """Per connection, the arrival (ns) of the message a step last matched: kept on the connection
    (``conn.floors``, keyed by this object), so it goes with it (a dict there, where a WeakKeyDictionary
    here cost ~1 us a match)."""

    __slots__ = ()

    def start(self, conn: Any, start: int) -> int:
        """Where a search from ``start`` may begin: after this step's last match on ``conn``."""
        last = conn.floors.get(self)
        return start if last is None or last < start else last + 1

    def matched(self, conn: Any, msg: Any) -> None:
        conn.floors[self] = msg.t_ns
