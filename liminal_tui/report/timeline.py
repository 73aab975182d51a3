"""What the report keeps of each tick for its charts and its generator-health section, in bounded memory.

A 1-hour run has 3600 ticks; :class:`Timeline` keeps at most ``limit`` points by merging neighbours
pairwise whenever it fills up (rates and counts are averaged, latencies keep the worst of the pair, so a
spike survives the merge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..metrics.snapshot import KIND_HTTP, Snapshot
from ..metrics.kinds import ALL
from .tables import split

__all__ = ["Point", "Timeline", "Health"]


class Point(NamedTuple):
    t: float
    """Seconds since load started."""
    rps: float
    fps: float
    users: float
    target: float
    p50: float | None
    p95: float | None
    p99: float | None
    ws_open: float
    ttfb_p95: float | None = None
    """HTTP time to first byte, p95 of the tick (None without connection timings)."""


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _worst(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def merge(points: list[Point]) -> Point:
    if len(points) == 1:
        return points[0]
    cols = list(zip(*points))
    return Point(
        cols[0][-1], _mean(cols[1]), _mean(cols[2]), _mean(cols[3]), _mean(cols[4]),
        _worst(cols[5]), _worst(cols[6]), _worst(cols[7]), _mean(cols[8]), _worst(cols[9]),
    )


def point_of(snapshot: Snapshot) -> Point:
    """The chart figures of one tick: whole-run throughput, HTTP latency percentiles of the tick."""
    _, aggregates = split(snapshot.interval_stats)
    everything = aggregates.get(ALL)
    http = aggregates.get(KIND_HTTP)
    lat = http.latency if http is not None and http.latency.count else None
    return Point(
        snapshot.elapsed,
        everything.rps if everything else 0.0,
        everything.fps if everything else 0.0,
        float(snapshot.users),
        float(snapshot.target_load),
        lat.p50 if lat else None,
        lat.p95 if lat else None,
        lat.p99 if lat else None,
        float(snapshot.ws.open),
        http.ttfb.p95 if http is not None and http.ttfb is not None else None,
    )


class Timeline:
    """Per-tick points, merged pairwise beyond ``limit`` points."""

    def __init__(self, limit: int = 3600) -> None:
        self.limit = max(2, limit)
        self.points: list[Point] = []
        self._stride = 1
        self._pending: list[Point] = []

    def add(self, point: Point) -> None:
        self._pending.append(point)
        if len(self._pending) >= self._stride:
            self.points.append(merge(self._pending))
            self._pending = []
        if len(self.points) >= self.limit:
            self.points = [merge(self.points[i : i + 2]) for i in range(0, len(self.points), 2)]
            self._stride *= 2

    def series(self, max_points: int = 720) -> list[Point]:
        """All points (pending ones too), merged down to at most ``max_points`` for drawing."""
        points = self.points + ([merge(self._pending)] if self._pending else [])
        if len(points) <= max_points:
            return points
        step = -(-len(points) // max_points)
        return [merge(points[i : i + step]) for i in range(0, len(points), step)]


@dataclass
class WorkerPeak:
    worker: int
    cpu_percent: float = 0.0
    loop_lag_ms: float = 0.0
    loop_lag_p99_ms: float = 0.0
    rss_mb: float = 0.0
    saturated_ticks: int = 0
    host: str = ""
    """A cluster host's name; empty for a local worker process."""

    @property
    def label(self) -> str:
        """``worker 0`` for a local process, ``host 0 (name)`` for a cluster host."""
        return f"host {self.worker} ({self.host})" if self.host else f"worker {self.worker}"


@dataclass
class Health:
    """The worst each worker did over the run, and how many ticks the generator was saturated."""

    workers: dict[int, WorkerPeak] = field(default_factory=dict)
    ticks: int = 0
    saturated_ticks: int = 0
    first_saturated_at: float | None = None

    def add(self, snapshot: Snapshot) -> None:
        if snapshot.final and self.ticks:
            return  # the workers' last report covers their shutdown (closing sockets), not the load
        self.ticks += 1
        for h in snapshot.health:
            if h.stopping:
                continue  # a worker that finished before the run did: its stop is not the load either
            peak = self.workers.get(h.worker)
            if peak is None:
                peak = self.workers[h.worker] = WorkerPeak(h.worker, host=h.host)
            peak.cpu_percent = max(peak.cpu_percent, h.cpu_percent)
            peak.loop_lag_ms = max(peak.loop_lag_ms, h.loop_lag_ms)
            peak.loop_lag_p99_ms = max(peak.loop_lag_p99_ms, h.loop_lag_p99_ms)
            peak.rss_mb = max(peak.rss_mb, h.rss_mb)
            peak.saturated_ticks += h.saturated
        if snapshot.saturated:
            self.saturated_ticks += 1
            if self.first_saturated_at is None:
                self.first_saturated_at = snapshot.elapsed

    @property
    def saturated(self) -> bool:
        return self.saturated_ticks > 0

    @property
    def warning(self) -> str | None:
        if not self.saturated:
            return None
        return (
            f"The load generator was saturated (CPU >= 90% of a core or event-loop lag >= 50 ms) during "
            f"{self.saturated_ticks} of {self.ticks} seconds, first at {self.first_saturated_at:.0f}s: "
            f"latencies then include the generator's own delay. Add workers or lower the load."
        )
