"""Plain records that cross the boundaries: what a worker ships each tick, and what the bus publishes.

    worker --IntervalReport (encoded histograms)--> aggregator --Snapshot--> bus --> readers

Everything here is a frozen dataclass of plain values: picklable, safe to share between readers, and
free of Textual. Times are milliseconds unless the name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .events import Event, StopReason
from .kinds import AGGREGATED, ALL, KINDS, PERCENTILES, Kind

__all__ = [
    "Kind",
    "ALL",
    "AGGREGATED",
    "KIND_HTTP",
    "KIND_WS_CONNECT",
    "KIND_WS_PING",
    "KIND_WS_MESSAGE",
    "KINDS",
    "PERCENTILES",
    "TIMED_AT_READ_CAUSES",
    "StatsTable",
    "BUCKETS_MS",
    "EndpointInterval",
    "WorkerHealth",
    "IntervalReport",
    "LatencyStats",
    "EndpointStats",
    "ErrorCount",
    "WsCounters",
    "Snapshot",
    "Phase",
]

# Plain strings for the records (they pickle as such); compare them with :class:`Kind` members freely.
KIND_HTTP: str = Kind.HTTP.value
KIND_WS_CONNECT: str = Kind.WS_CONNECT.value
KIND_WS_PING: str = Kind.WS_PING.value
KIND_WS_MESSAGE: str = Kind.WS_MESSAGE.value

BUCKETS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
"""Latency bucket bounds for exporters (Prometheus' usual ladder, in milliseconds)."""

SATURATED_CPU_PERCENT = 90.0
"""A worker using this much of a core (or more) in a tick is saturated: it measures itself."""
SATURATED_LAG_MS = 50.0
"""An event-loop lag this long (or longer) in a tick is saturation too."""

Phase = Literal["starting", "ramping", "steady", "stopping", "finished"]


# ---------------------------------------------------------------- worker -> aggregator


@dataclass(frozen=True, slots=True)
class EndpointInterval:
    """One endpoint's samples of one tick in one worker. Histograms are HdrHistogram-encoded (us)."""

    kind: str
    name: str
    method: str
    count: int
    failures: int
    bytes: int
    hist: bytes | None
    """Latency of successful samples (open model: from the intended start, i.e. corrected)."""
    failed_hist: bytes | None
    """Latency of failed samples, kept apart so errors do not flatter or spoil the percentiles."""
    service_hist: bytes | None
    """Open model only: uncorrected service time (from the actual send) of successful samples."""
    errors: tuple[tuple[str, str, int], ...] = ()
    """(error name, message, count), e.g. ("HTTP 503", "Service Unavailable", 4)."""
    statuses: tuple[tuple[int, int], ...] = ()
    sums_us: tuple[int, int, int] = (0, 0, 0)
    """Sum of latencies (us) of successes, failures, service times: exact means without a histogram scan."""
    skipped: int = 0
    """Steps not run because an earlier step of their iteration failed (``on_failure = "end_iteration"``)."""
    redirects: int = 0
    """Redirects followed (each hop; the step itself is one sample)."""
    timings: tuple[bytes | None, ...] = (None, None, None, None)
    """Encoded histograms (us) of TCP connect, TLS handshake and time to first byte of successes
    (``kinds.TIMINGS``); connect and TLS only for requests that opened a connection; then delivery
    (WebSocket messages with a send stamp: arrival minus the stamp)."""
    timing_sums_us: tuple[int, ...] = (0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    """How hard the generator itself is working; a saturated generator measures itself."""

    worker: int
    cpu_percent: float
    """CPU used by the worker process over the tick, 100 = one full core."""
    loop_lag_ms: float
    """Worst event-loop lag seen in the tick (a timer firing late)."""
    loop_lag_p99_ms: float
    rss_mb: float
    host: str = ""
    """A cluster run's worker is a host: its name (set by the cluster pool); empty for a local process."""
    clock_offset_ms: float | None = None
    """A cluster host's clock minus the coordinator's (ms), latest measurement; None locally or unmeasured."""
    requests: int | None = None
    """A cluster host's requests (successes and failures) so far in the run, for its share of req/s;
    None where not counted (local worker processes)."""
    stopping: bool = False
    """From the worker's last report, which covers its stop (cancelling users, closing every connection),
    not the load: its CPU and lag are shown but never count as saturation, whichever snapshot it lands in."""

    @property
    def saturated(self) -> bool:
        return not self.stopping and (self.cpu_percent >= SATURATED_CPU_PERCENT or self.loop_lag_ms >= SATURATED_LAG_MS)

    @property
    def label(self) -> str:
        """``worker 0`` for a local process, ``host 0 (name)`` for a cluster host."""
        return f"host {self.worker} ({self.host})" if self.host else f"worker {self.worker}"


@dataclass(frozen=True, slots=True)
class IntervalReport:
    """Everything one worker measured during one tick."""

    worker: int
    tick: int
    """The tick's number: tick ``n`` ends at ``n`` ticks into the run (the final report's may end early).
    The run lines reports up by this number, whatever order they arrive in."""
    t_end: float
    """Seconds since the run started, by the worker's :class:`~.clock.RunClock`, at the end of the tick."""
    endpoints: tuple[EndpointInterval, ...]
    users: int
    """Virtual users (closed) or iterations in flight (open) at the end of the tick."""
    target: float
    """What the load model asks for right now: users or iterations/s."""
    iterations: int
    dropped: int
    """Open model: arrivals not started because max_in_flight was reached."""
    http_connections: int
    ws_open: int
    ws_connects: int
    ws_reconnects: int
    ws_drops: int
    ws_messages_in: int
    ws_messages_out: int
    health: WorkerHealth
    final: bool = False
    t_start: float = 0.0
    """Seconds since the run started at the beginning of the tick (the previous report's ``t_end``)."""
    ws_messages_timed_at_read: int = 0
    """Of ``ws_messages_in``, those timed at the worker's read, not at their arrival (:class:`WsCounters`)."""


# ---------------------------------------------------------------- aggregator -> bus -> readers


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Latency figures in milliseconds, exact to HdrHistogram precision (3 significant digits)."""

    count: int = 0
    min: float = 0.0
    max: float = 0.0
    mean: float = 0.0
    percentiles: tuple[float, ...] = (0.0,) * len(PERCENTILES)
    """Values for :data:`PERCENTILES`, in order."""

    def pct(self, p: float) -> float:
        return self.percentiles[PERCENTILES.index(p)]

    @property
    def p50(self) -> float:
        return self.percentiles[0]

    @property
    def p90(self) -> float:
        return self.percentiles[4]

    @property
    def p95(self) -> float:
        return self.percentiles[5]

    @property
    def p99(self) -> float:
        return self.percentiles[7]



@dataclass(frozen=True, slots=True)
class EndpointStats:
    """One endpoint (or an aggregate: name :data:`AGGREGATED`) over an interval or the whole run."""

    kind: str
    name: str
    method: str
    count: int
    failures: int
    rps: float
    fps: float
    """Failures per second."""
    bytes_total: int
    latency: LatencyStats
    """Successful samples. In the open model: corrected for coordinated omission."""
    failed_latency: LatencyStats
    service: LatencyStats | None = None
    """Open model: uncorrected service time, to show beside the corrected latency."""
    statuses: tuple[tuple[int, int], ...] = ()
    buckets: tuple[tuple[float, int], ...] = ()
    """Whole-run stats with a metrics exporter attached: (upper bound ms, cumulative count) of successes
    at :data:`BUCKETS_MS`, for a Prometheus histogram."""
    skipped: int = 0
    """Steps not run: an earlier step of the iteration failed. Not part of ``total``."""
    redirects: int = 0
    """Redirects followed on the way to the final responses."""
    all_latency: LatencyStats = field(default_factory=LatencyStats)
    """Every sample, successes and failures together, as Locust's ``results_stats.csv`` times them."""
    connect: LatencyStats | None = None
    """TCP connect time of the successes that opened a connection (None: no timings kept)."""
    tls: LatencyStats | None = None
    """TLS handshake time of the successes that opened an https:// connection."""
    ttfb: LatencyStats | None = None
    """Time to first byte of successes, from the step's start (connect and TLS included when opened)."""
    delivery: LatencyStats | None = None
    """WebSocket messages that carried a send stamp (a ``ws_wait``'s ``stamp``): arrival minus the stamp,
    the fan-out latency from the server's send to this user (None: no stamped message)."""

    @property
    def total(self) -> int:
        """Successes and failures."""
        return self.count + self.failures

    @property
    def error_rate(self) -> float:
        return self.failures / self.total if self.total else 0.0

    @property
    def avg_bytes(self) -> float:
        return self.bytes_total / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class StatsTable:
    """Endpoint rows and aggregate rows of one span (an interval, or the whole run), held apart: an
    endpoint that happens to be named "Aggregated" is still an endpoint."""

    endpoints: tuple[EndpointStats, ...] = ()
    """One row per endpoint seen so far, by kind (in :data:`KINDS` order), then name."""
    aggregates: tuple[EndpointStats, ...] = ()
    """Each kind's aggregate (name :data:`AGGREGATED`) in :data:`KINDS` order, then the run-wide one
    (kind :data:`ALL`); empty before the first sample."""

    def endpoint(self, kind: str, name: str) -> EndpointStats | None:
        for stats in self.endpoints:
            if stats.kind == kind and stats.name == name:
                return stats
        return None

    def aggregate(self, kind: str) -> EndpointStats | None:
        """A kind's aggregate, or the run-wide one for :data:`ALL`."""
        for stats in self.aggregates:
            if stats.kind == kind:
                return stats
        return None

    def rows(self) -> tuple[EndpointStats, ...]:
        """Locust's table order: each kind's endpoints followed by its aggregate, then the ``all`` row."""
        out: list[EndpointStats] = []
        for agg in self.aggregates:
            out.extend(s for s in self.endpoints if s.kind == agg.kind)
            out.append(agg)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class ErrorCount:
    kind: str
    name: str
    method: str
    error: str
    message: str
    count: int


TIMED_AT_READ_CAUSES = "wss://, Socket.IO, past a worker's stamped connections, or not Linux"
"""Why a WebSocket message is timed at the worker's read, not at its arrival: said wherever they are counted."""


@dataclass(frozen=True, slots=True)
class WsCounters:
    open: int = 0
    connects: int = 0
    reconnects: int = 0
    drops: int = 0
    messages_in: int = 0
    messages_out: int = 0
    peak_open: int = 0
    """Most WebSockets open at once, at any tick so far (whole-run counters only)."""
    messages_timed_at_read: int = 0
    """Of ``messages_in``, those timed when a worker read them, not from the kernel's arrival stamp
    (:data:`TIMED_AT_READ_CAUSES`): their latencies also hold the time they waited for a busy worker."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state of a run at one tick: published on the bus, read by every reader."""

    seq: int
    profile: str
    target: str
    model: str
    """``closed`` or ``open``."""
    phase: Phase
    elapsed: float
    """Seconds since load started."""
    duration: float
    interval: float
    """Seconds covered by the ``interval`` stats (normally the tick)."""
    users: int
    target_load: float
    """Users (closed) or iterations/s (open) the load model asks for now."""
    iterations: int
    dropped: int
    http_connections: int
    interval_stats: StatsTable
    """Endpoints and aggregates, this interval only."""
    total_stats: StatsTable
    """Endpoints and aggregates, the whole run so far."""
    errors: tuple[ErrorCount, ...]
    """Failures grouped by (endpoint, error), whole run, most frequent first."""
    ws: WsCounters
    ws_interval: WsCounters
    health: tuple[WorkerHealth, ...]
    events: tuple[Event, ...] = ()
    """Notable events of this tick: phase changes, threshold lost, generator saturated, worker lost."""
    final: bool = False
    wall_time: float = 0.0
    """Unix time of the snapshot (for history timestamps)."""
    stop_reason: StopReason | None = None
    """Final snapshot only: why load stopped."""
    peak_users: int = 0
    """Most users (closed) or iterations in flight (open) seen in any tick so far."""
    peak_target: float = 0.0
    """Highest load the model asked for so far: users or iterations/s."""
    distribution: tuple[tuple[float, int], ...] = field(default=())
    """Final snapshot only: (latency ms, count) buckets of all HTTP successes, for a histogram chart."""
    histograms: tuple[tuple[str, str, bool, bytes], ...] = field(default=())
    """Final snapshot only: (kind, name, is_aggregate, base64 HdrHistogram of successes in us) for each
    endpoint and each ``Aggregated`` row, so a later comparison can judge percentiles from the whole
    distribution. ``is_aggregate`` keeps an endpoint that happens to be named "Aggregated" apart."""

    def find(self, kind: str, name: str | None = None, total: bool = True) -> EndpointStats | None:
        """An endpoint's stats, or with no ``name`` the kind's aggregate (:data:`ALL`: every kind's);
        the whole run's, or this interval's with ``total=False``. None before any sample."""
        table = self.total_stats if total else self.interval_stats
        return table.aggregate(kind) if name is None else table.endpoint(kind, name)

    @property
    def saturated(self) -> bool:
        return any(h.saturated for h in self.health)

    @property
    def remaining(self) -> float:
        return max(0.0, self.duration - self.elapsed)
