"""What the coordinator knows of each host: who it is, its clock's offset, and its figures for the report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable

from ..metrics.clean import sanitize
from ..metrics.snapshot import IntervalReport

__all__ = ["Host", "measure_offset", "hosts_section"]

CLOCK_SAMPLES = 3
"""Round trips per offset measurement; the one with the shortest round trip is kept."""


@dataclass
class Host:
    """One Dask worker running an agent: a "worker" of the run, numbered ``index``."""

    index: int
    address: str
    """The Dask worker's address, e.g. ``tcp://10.0.0.7:39211``."""
    hostname: str
    version: str
    processes: int
    """Worker processes the agent runs there (its share of the load is weighted by this)."""
    pid: int = 0
    """The Dask worker's process id on its host."""
    in_process: bool = False
    """The engine runs in the agent's thread (``workers = 0``), weighted as one process."""
    agent: Any = None
    offsets_ms: list[float] = field(default_factory=list)
    """This host's clock minus the coordinator's (ms), at start and every minute."""
    rtt_ms: float = 0.0
    """Round trip of the latest offset measurement (its uncertainty is half of it)."""
    requests: int = 0
    """Requests (successes and failures) this host reported."""
    cpu_peak: float = 0.0
    """Busiest worker process's CPU, peak over the run (100 = one core)."""
    loop_lag_peak_ms: float = 0.0
    saturated_ticks: int = 0
    lost_at: float | None = None
    """Seconds into the run when it was lost (died, or stopped reporting)."""
    lost_reason: str | None = None
    last_report: float = 0.0
    """``time.monotonic()`` of its latest report."""
    last_answer: float = 0.0
    """``time.monotonic()`` of its latest answer to a poll (with or without reports)."""

    @property
    def name(self) -> str:
        return f"{self.hostname} ({self.address})"

    @property
    def offset_ns(self) -> int:
        return int(self.offsets_ms[-1] * 1e6) if self.offsets_ms else 0

    def add(self, report: IntervalReport) -> None:
        self.requests += sum(e.count + e.failures for e in report.endpoints)
        self.last_report = time.monotonic()
        if not report.final:
            h = report.health
            self.cpu_peak = max(self.cpu_peak, h.cpu_percent)
            self.loop_lag_peak_ms = max(self.loop_lag_peak_ms, h.loop_lag_ms)
            self.saturated_ticks += h.saturated

    def labelled(self, report: IntervalReport) -> IntervalReport:
        """``report`` with its health naming this host, with its latest clock offset and its requests so far
        (after :meth:`add`): what the dashboard's Generator panel lists per host."""
        health = replace(report.health, host=sanitize(self.hostname),
                         clock_offset_ms=self.offsets_ms[-1] if self.offsets_ms else None, requests=self.requests)
        return replace(report, health=health)

    def record(self, total_requests: int, seconds: float) -> dict[str, Any]:
        worst = max(self.offsets_ms, key=abs, default=0.0)
        return {
            "host": self.hostname,
            "address": self.address,
            "version": self.version,
            "worker_processes": 0 if self.in_process else self.processes,
            "cpu_peak_percent": round(self.cpu_peak, 1),
            "loop_lag_peak_ms": round(self.loop_lag_peak_ms, 2),
            "saturated_ticks": self.saturated_ticks,
            "clock_offset_ms": round(worst, 3),
            "clock_rtt_ms": round(self.rtt_ms, 3),
            "requests": self.requests,
            "rps": round(self.requests / seconds, 2) if seconds > 0 else 0.0,
            "rps_share": round(self.requests / total_requests, 4) if total_requests else 0.0,
            "lost_at_s": None if self.lost_at is None else round(self.lost_at, 1),
            "lost_reason": self.lost_reason,
        }


async def measure_offset(read_clock: Callable[[], Awaitable[int]], samples: int = CLOCK_SAMPLES) -> tuple[float, float]:
    """(offset ms, round trip ms): the remote clock minus ours, at the midpoint of the shortest round trip."""
    best: tuple[int, int] | None = None
    for _ in range(samples):
        t0 = time.time_ns()
        remote = await read_clock()
        t1 = time.time_ns()
        sample = (t1 - t0, remote - (t0 + t1) // 2)
        if best is None or sample[0] < best[0]:
            best = sample
    assert best is not None
    return best[1] / 1e6, best[0] / 1e6


def hosts_section(hosts: list[Host], seconds: float, joined_unused: list[str]) -> dict[str, Any]:
    """summary.json's ``hosts`` and ``clock`` sections."""
    total = sum(h.requests for h in hosts)
    offsets = [o for h in hosts for o in h.offsets_ms]
    return {
        "hosts": [h.record(total, seconds) for h in hosts],
        "clock": {
            "worst_offset_ms": round(max(offsets, key=abs), 3) if offsets else 0.0,
            "measurements": len(offsets),
        },
        "cluster_workers_not_used": joined_unused,
    }
