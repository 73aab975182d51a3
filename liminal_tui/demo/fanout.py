"""The demo target's broadcasts: serialized once, stamped with their send time, and timed as they go out.

Each broadcast carries ``sent_ns``, the server's clock when the broadcast began (Unix time in
nanoseconds, ``time.time_ns()``). The wall clock, not ``CLOCK_MONOTONIC``, because a stamp is only worth
something if the receiver can read the same clock: on one host both clocks are shared by every process
(so either would do), but the demo can also be served to another host (``--serve-demo --host``), where
only the wall clock, kept in step by NTP, means the same instant on both sides. A step of the wall clock
during a run would show as one wrong sample per connection; a slew (at most 0.5 ms per second) is lost
in the microseconds that are measured.

The frame is encoded once (``Broadcast.frame``) and the same bytes go to every client. As each client's
send completes, the server records it against the stamp (:class:`FanoutStats`): the server's own view of
the fan-out, which ``/_stats`` reports under ``broadcasts`` (and which ``bench/ws_fanout.py`` checks the
load tool's delivery latency against).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ..metrics.recorder import HIGHEST_US, new_histogram, record

__all__ = ["Broadcast", "FanoutStats", "STAMP_FIELD"]

STAMP_FIELD = "sent_ns"
"""The field of every broadcast that holds its send time (Unix ns, wall clock)."""


class Broadcast:
    """One broadcast on its way to every client: one encoded frame, one stamp, how far it has got."""

    __slots__ = ("frame", "sent_ns", "pending", "first_ns", "last_ns")

    def __init__(self, payload: dict[str, Any], clients: int) -> None:
        self.sent_ns = time.time_ns()
        self.frame = json.dumps({**payload, STAMP_FIELD: self.sent_ns}).encode()
        """The message as UTF-8 text, encoded once for all clients."""
        self.pending = clients
        """Clients whose send has not completed (or failed) yet."""
        self.first_ns = self.last_ns = 0
        """When the first and the latest client's send completed (Unix ns)."""


def _us(ns: int) -> int:
    us = ns // 1000
    return 1 if us < 1 else HIGHEST_US if us > HIGHEST_US else us


GROUPS = 16
"""Client groups (``/ws?group=NAME``) timed apart at most; the clients of any further group are timed in
the whole only."""
_GROUP = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class FanoutStats:
    """The server's own timing of its broadcasts (microsecond HDR histograms, as the load tool keeps).

    ``delivery``: for each client, from the broadcast's stamp to the moment its frame was handed to the
    client's socket (``send_str`` returned): the latency a client on loopback cannot beat. ``span``: for
    each broadcast, from the first client's send to the last one's: the server's per-broadcast fan-out
    cost. ``total``: from the stamp to the last client's send. ``groups``: ``delivery`` again for each
    group of clients that named one when connecting (``/ws?group=tool``), so that a load tool's figures
    can be held against the server's for its own connections only."""

    def __init__(self) -> None:
        self.broadcasts = 0
        self.sends = 0
        self.failed = 0
        self.delivery = new_histogram()
        self.span = new_histogram()
        self.total = new_histogram()
        self.groups: dict[str, Any] = {}

    def group(self, name: str | None) -> Any:
        """The delivery histogram of the group ``name`` (made on first use), or None: no name, a name that
        is not 1-32 letters, digits, ``_.-``, or one group too many."""
        if not name or not _GROUP.fullmatch(name):
            return None
        hist = self.groups.get(name)
        if hist is None and len(self.groups) < GROUPS:
            hist = self.groups[name] = new_histogram()
        return hist

    def started(self, bc: Broadcast) -> None:
        self.broadcasts += 1
        if bc.pending == 0:
            self._done(bc)

    def sent(self, bc: Broadcast, ok: bool = True, group: Any = None) -> None:
        """One client's send of ``bc`` completed (``ok``) or failed; ``group``: the client's (:meth:`group`)."""
        now = time.time_ns()
        if ok:
            self.sends += 1
            us = _us(now - bc.sent_ns)
            record(self.delivery, us)
            if group is not None:
                record(group, us)
            if not bc.first_ns:
                bc.first_ns = now
            bc.last_ns = now
        else:
            self.failed += 1
        bc.pending -= 1
        if bc.pending == 0:
            self._done(bc)

    def _done(self, bc: Broadcast) -> None:
        if bc.first_ns:
            record(self.span, _us(bc.last_ns - bc.first_ns))
            record(self.total, _us(bc.last_ns - bc.sent_ns))

    def snapshot(self) -> dict[str, Any]:
        """For ``/_stats``: counts, percentiles (ms) and each histogram as hdrh's base64 encoding."""
        out: dict[str, Any] = {"count": self.broadcasts, "sends": self.sends, "failed_sends": self.failed,
                               "stamp_field": STAMP_FIELD, "clock": "unix_ns"}
        for name in ("delivery", "span", "total"):
            out[f"{name}_ms"] = _figures(getattr(self, name))
        out["groups"] = {name: {"delivery_ms": _figures(hist)} for name, hist in self.groups.items()}
        return out


def _figures(hist: Any) -> dict[str, Any] | None:
    """Count, percentiles and max (ms), and the histogram as hdrh's base64 encoding; None: no sample."""
    if not hist.get_total_count():
        return None
    return {
        "count": hist.get_total_count(),
        **{f"p{p:g}": hist.get_value_at_percentile(p) / 1000 for p in (50, 90, 99)},
        "max": hist.get_max_value() / 1000,
        "hdr": hist.encode().decode(),  # hdrh: compressed, base64
    }
