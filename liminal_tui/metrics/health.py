"""The generator's own health: CPU use and event-loop lag. A saturated generator measures itself."""

from __future__ import annotations

import asyncio
import os
import time

from .snapshot import WorkerHealth

__all__ = ["HealthMonitor"]

PROBE = 0.05  # seconds between lag probes


class HealthMonitor:
    """Probes the event loop every 50 ms; ``take()`` reports and resets the tick's figures."""

    def __init__(self, worker: int) -> None:
        self.worker = worker
        self._lags: list[float] = []
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    async def run(self, until: float) -> None:
        """Probe until ``time.perf_counter()`` passes ``until`` (bounded) or the task is cancelled."""
        while time.perf_counter() < until:
            before = time.perf_counter()
            await asyncio.sleep(PROBE)
            self._lags.append(max(0.0, time.perf_counter() - before - PROBE) * 1000.0)

    def take(self, stopping: bool = False) -> WorkerHealth:
        """The figures since the last call (``stopping``: they cover the worker's stop, see :class:`WorkerHealth`)."""
        now_cpu, now_wall = time.process_time(), time.perf_counter()
        cpu = (now_cpu - self._cpu0) / max(now_wall - self._wall0, 1e-9) * 100.0
        self._cpu0, self._wall0 = now_cpu, now_wall
        lags, self._lags = sorted(self._lags), []
        worst = lags[-1] if lags else 0.0
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else 0.0
        return WorkerHealth(self.worker, round(cpu, 1), round(worst, 2), round(p99, 2), self._rss_mb(), stopping=stopping)

    def _rss_mb(self) -> float:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self._page / 1e6
        except OSError:
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
