"""Merge the workers' interval reports exactly (histograms are added, not averaged) into snapshots."""

from __future__ import annotations

import ctypes
import math
import time
from bisect import bisect_left
from collections import Counter
from itertools import accumulate
from typing import Iterable
from dataclasses import dataclass, field, replace

from hdrh.histogram import HdrHistogram

from .hdr import thread_adder
from .events import Event, StopReason
from .kinds import AGGREGATED, ALL, KINDS, PERCENTILES, Kind
from .recorder import clear_histogram, new_histogram
from .snapshot import (
    BUCKETS_MS,
    EndpointInterval,
    EndpointStats,
    ErrorCount,
    IntervalReport,
    LatencyStats,
    Phase,
    Snapshot,
    StatsTable,
    WsCounters,
)

__all__ = ["Aggregator", "latency_stats", "percentile_values"]
MIN_SPAN = 1e-3
"""Seconds: an interval shorter than this is taken as this (no rate from nothing)."""


def _counts(hist: HdrHistogram) -> memoryview:
    """The histogram's counts array, read in place."""
    return memoryview(hist.counts).cast("B").cast("Q" if ctypes.sizeof(ctypes.c_ulong) == 8 else "L")


def percentile_values(hist: HdrHistogram, percentiles: Iterable[float]) -> dict[float, int]:
    """What ``hist.get_percentile_to_value_dict`` returns, the same values, ~5x faster.

    hdrh walks the counts one Python call per bucket (1.2 ms for a 200 ms range, more for longer
    ones), for each of the ~25 histograms a tick; here the running total is one C-level pass up to the
    max value's bucket and each percentile a binary search in it: the first bucket whose running total
    reaches the target count, reported as its highest equivalent value (lowest for percentile 0).
    """
    counts = _counts(hist)
    end = min(hist._counts_index_for(hist.get_max_value()) + 1, hist.counts_len)
    running = list(accumulate(counts[:end]))
    if not running or running[-1] < hist.total_count:  # a max value not kept up to date: walk them all
        end = hist.counts_len
        running = list(accumulate(counts))
    out = {}
    for p in sorted(set(percentiles)):
        index = min(bisect_left(running, hist.get_target_count_at_percentile(p)), end - 1)
        value = hist.get_value_from_index(index)
        out[p] = hist.get_highest_equivalent_value(value) if p else hist.get_lowest_equivalent_value(value)
    return out


def latency_stats(hist: HdrHistogram | None, sum_us: int = 0) -> LatencyStats:
    """Milliseconds, straight from the histogram; the mean from the exact sum of samples."""
    if hist is None or hist.get_total_count() == 0:
        return LatencyStats()
    values = percentile_values(hist, PERCENTILES)
    count = hist.get_total_count()
    return LatencyStats(
        count=count,
        min=hist.get_min_value() / 1000.0,
        max=hist.get_max_value() / 1000.0,
        mean=sum_us / count / 1000.0,
        percentiles=tuple(values[p] / 1000.0 for p in PERCENTILES),
    )


def cumulative_buckets(hist: HdrHistogram) -> tuple[tuple[float, int], ...]:
    """(bound ms, samples <= bound) at BUCKETS_MS, in one pass over the counts (~0.3 ms)."""
    if hist.total_count == 0:
        return tuple((b, 0) for b in BUCKETS_MS)
    counts = _counts(hist)
    out, running, start = [], 0, 0
    for bound in BUCKETS_MS:
        end = min(hist._counts_index_for(int(bound * 1000)) + 1, hist.counts_len)
        if end > start:
            running += sum(counts[start:end])
            start = end
        out.append((bound, running))
    return tuple(out)


@dataclass
class _Series:
    """Histograms and counters of one (kind, name) over some span."""

    kind: str
    name: str
    method: str
    open_model: bool
    count: int = 0
    failures: int = 0
    bytes: int = 0
    hist: HdrHistogram = field(default_factory=new_histogram)
    failed_hist: HdrHistogram = field(default_factory=new_histogram)
    service_hist: HdrHistogram | None = None
    statuses: Counter = field(default_factory=Counter)
    sums: list[int] = field(default_factory=lambda: [0, 0, 0])
    skipped: int = 0
    redirects: int = 0
    both_hist: HdrHistogram | None = None
    """Scratch: successes and failures together, made only for a series that has both."""
    timing: list = field(default_factory=lambda: [None, None, None, None])
    """Connect, TLS, first-byte and delivery histograms (``kinds.TIMINGS``), made when the first arrives."""
    timing_sums: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    def __post_init__(self) -> None:
        if self.open_model and self.kind == Kind.HTTP:
            self.service_hist = new_histogram()

    def reset(self) -> None:
        """Empty for reuse: zeroing counters in place leaves no garbage (a fresh histogram is 190 KB)."""
        self.count = self.failures = self.bytes = self.skipped = self.redirects = 0
        self.sums = [0, 0, 0]
        self.timing_sums = [0, 0, 0, 0]
        self.statuses.clear()
        for hist in (self.hist, self.failed_hist, self.service_hist, *self.timing):
            if hist is not None and hist.total_count:
                clear_histogram(hist)

    def add_interval(self, item: EndpointInterval) -> None:
        self.count += item.count
        self.failures += item.failures
        self.bytes += item.bytes
        adder = thread_adder()
        if item.hist:
            adder.add(self.hist, item.hist)
        if item.failed_hist:
            adder.add(self.failed_hist, item.failed_hist)
        if item.service_hist and self.service_hist is not None:
            adder.add(self.service_hist, item.service_hist)
        self.skipped += item.skipped
        self.redirects += item.redirects
        self.statuses.update(dict(item.statuses))
        for i, v in enumerate(item.sums_us):
            self.sums[i] += v
        for i, encoded in enumerate(item.timings):
            if encoded:
                hist = self.timing[i]
                if hist is None:
                    hist = self.timing[i] = new_histogram()
                hist.decode_and_add(encoded)
                self.timing_sums[i] += item.timing_sums_us[i]

    def add_series(self, other: "_Series") -> None:
        self.count += other.count
        self.failures += other.failures
        self.bytes += other.bytes
        # hdrh resets the minimum to 0 when an empty histogram is added: add only non-empty ones.
        if other.hist.get_total_count():
            self.hist.add(other.hist)
        if other.failed_hist.get_total_count():
            self.failed_hist.add(other.failed_hist)
        if self.service_hist is not None and other.service_hist is not None and other.service_hist.get_total_count():
            self.service_hist.add(other.service_hist)
        self.skipped += other.skipped
        self.redirects += other.redirects
        self.statuses.update(other.statuses)
        for i, v in enumerate(other.sums):
            self.sums[i] += v
        for i, hist in enumerate(other.timing):
            if hist is not None and hist.total_count:
                mine = self.timing[i]
                if mine is None:
                    mine = self.timing[i] = new_histogram()
                mine.add(hist)
                self.timing_sums[i] += other.timing_sums[i]

    @property
    def active(self) -> bool:
        return bool(self.count or self.failures or self.skipped)

    def _all_latency(self, ok: LatencyStats, failed: LatencyStats) -> LatencyStats:
        """Successes and failures together; a merge only when there are both."""
        if not self.failures:
            return ok
        if not self.count:
            return failed
        both = self.both_hist
        if both is None:
            both = self.both_hist = new_histogram()
        elif both.total_count:
            clear_histogram(both)
        both.add(self.hist)
        both.add(self.failed_hist)
        return latency_stats(both, self.sums[0] + self.sums[1])

    def stats(self, seconds: float, buckets: bool = False) -> EndpointStats:
        seconds = max(seconds, 1e-9)
        ok, failed = latency_stats(self.hist, self.sums[0]), latency_stats(self.failed_hist, self.sums[1])
        return EndpointStats(
            buckets=cumulative_buckets(self.hist) if buckets else (),
            kind=self.kind,
            name=self.name,
            method=self.method,
            count=self.count,
            failures=self.failures,
            rps=(self.count + self.failures) / seconds,
            fps=self.failures / seconds,
            bytes_total=self.bytes,
            latency=ok,
            failed_latency=failed,
            service=latency_stats(self.service_hist, self.sums[2]) if self.service_hist is not None else None,
            statuses=tuple(sorted(self.statuses.items())),
            skipped=self.skipped,
            redirects=self.redirects,
            all_latency=self._all_latency(ok, failed),
            connect=self._timing(0),
            tls=self._timing(1),
            ttfb=self._timing(2),
            delivery=self._timing(3),
        )

    def _timing(self, i: int) -> LatencyStats | None:
        hist = self.timing[i]
        return latency_stats(hist, self.timing_sums[i]) if hist is not None and hist.total_count else None


class Aggregator:
    """Holds the run's cumulative state; turns each tick's reports into one :class:`Snapshot`."""

    def __init__(self, profile: str, target: str, model: str, duration: float, tick: float = 1.0,
                 endpoints: Iterable[tuple[str, str, str]] = ()) -> None:
        """``endpoints``: (kind, name, method) of every endpoint the profile can produce: each has its row
        from the first snapshot, even one that never runs (all its steps skipped, say)."""
        self.profile = profile
        self.target = target
        self.model = model
        self.duration = duration
        self.tick = tick
        self._open = model == "open"
        self._total: dict[tuple[str, str], _Series] = {}
        self._interval: dict[tuple[str, str], _Series] = {}
        self._peak_users = 0
        self._peak_target = 0.0
        self.buckets = False
        """Fill EndpointStats.buckets of whole-run rows (set when a metrics exporter reads the bus)."""
        self._interval_rows = _Aggregates(self._open)
        self._total_rows = _Aggregates(self._open)
        self._errors: Counter[tuple[str, str, str, str, str]] = Counter()
        self._pending: list[IntervalReport] = []
        self._ws = WsCounters()
        self._workers: dict[int, IntervalReport] = {}
        self._forgotten: set[int] = set()
        self._iterations = 0
        self._dropped = 0
        self._seq = 0
        self._last_elapsed = 0.0
        self._covered = 0.0
        """The latest ``t_end`` of the workers' reports so far."""
        for kind, name, method in endpoints:
            self._interval[(kind, name)] = _Series(kind, name, method, self._open)
            self._total[(kind, name)] = _Series(kind, name, method, self._open)

    def add(self, report: IntervalReport) -> None:
        self._pending.append(report)

    def snapshot(
        self,
        phase: Phase,
        elapsed: float,
        events: tuple[Event, ...] = (),
        final: bool = False,
        stop_reason: StopReason | None = None,
        clock: float | None = None,
        upto_tick: int | None = None,
    ) -> Snapshot:
        """``elapsed``: the run's time so far (rates over the whole run use it; for the final snapshot,
        the time load ran). ``clock``: time since start now, for the interval's span (default elapsed).
        ``upto_tick``: take only reports of ticks up to this number (later ones wait for their
        snapshot); None takes every report received."""
        if upto_tick is None or final:
            reports, self._pending = self._pending, []
        else:
            reports = [r for r in self._pending if r.tick <= upto_tick]
            self._pending = [r for r in self._pending if r.tick > upto_tick]
        now = elapsed if clock is None else clock
        # The interval is the time the reports cover (each carries its start and end by the run's
        # clock), not the time since the last snapshot: the final report covers only up to the stop,
        # often well under a tick, and a main process that wakes late must not stretch a tick.
        # Without reports: the clock's span.
        covered = max((r.t_end for r in reports), default=self._covered)
        begun = max(self._covered, min((r.t_start for r in reports), default=self._covered))
        if covered > begun + MIN_SPAN:
            span, self._covered = covered - begun, covered
        else:
            span = max(now - self._last_elapsed, MIN_SPAN)
        self._last_elapsed = now
        interval = self._interval
        for series in interval.values():
            series.reset()
        msgs_in = msgs_out = at_read = connects = reconnects = drops = 0
        for report in reports:
            if report.worker not in self._forgotten:  # a lost worker's late reports count, its users no more
                self._workers[report.worker] = report
            self._iterations += report.iterations
            self._dropped += report.dropped
            connects += report.ws_connects
            reconnects += report.ws_reconnects
            drops += report.ws_drops
            msgs_in += report.ws_messages_in
            msgs_out += report.ws_messages_out
            at_read += report.ws_messages_timed_at_read
            for item in report.endpoints:
                key = (item.kind, item.name)
                series = interval.get(key)
                if series is None:
                    series = interval[key] = _Series(item.kind, item.name, item.method, self._open)
                    self._total[key] = _Series(item.kind, item.name, item.method, self._open)
                series.add_interval(item)
                for error, message, n in item.errors:
                    self._errors[(item.kind, item.name, item.method, error, message)] += n
        for key, series in interval.items():
            if series.active:
                self._total[key].add_series(series)
        live = list(self._workers.values())
        open_now = sum(r.ws_open for r in live)
        ws_interval = WsCounters(open_now, connects, reconnects, drops, msgs_in, msgs_out, messages_timed_at_read=at_read)
        w = self._ws
        self._ws = WsCounters(
            open_now, w.connects + connects, w.reconnects + reconnects, w.drops + drops,
            w.messages_in + msgs_in, w.messages_out + msgs_out, max(w.peak_open, open_now),
            w.messages_timed_at_read + at_read,
        )
        self._seq += 1
        users, target = sum(r.users for r in live), sum(r.target for r in live)
        self._peak_users = max(self._peak_users, users)
        self._peak_target = max(self._peak_target, target)
        return Snapshot(
            seq=self._seq,
            profile=self.profile,
            target=self.target,
            model=self.model,
            phase=phase,
            elapsed=elapsed,
            duration=self.duration,
            interval=span,
            users=users,
            target_load=target,
            peak_users=self._peak_users,
            peak_target=self._peak_target,
            iterations=self._iterations,
            dropped=self._dropped,
            http_connections=sum(r.http_connections for r in live),
            interval_stats=self._interval_rows.rows(interval, span, reset=True),
            total_stats=self._total_rows.rows(self._total, max(elapsed, 1e-9), reset=False, fresh=interval,
                                              buckets=self.buckets),
            errors=tuple(
                ErrorCount(k, n, m, e, msg, c) for (k, n, m, e, msg), c in self._errors.most_common()
            ),
            ws=self._ws,
            ws_interval=ws_interval,
            health=tuple(sorted((r.health for r in live), key=lambda h: h.worker)),
            events=events,
            final=final,
            wall_time=time.time(),
            stop_reason=stop_reason,
            distribution=self._distribution() if final else (),
            histograms=self._encoded() if final else (),
        )

    def forget_worker(self, worker: int) -> None:
        """A worker that died no longer counts toward users and connections."""
        self._workers.pop(worker, None)
        self._forgotten.add(worker)

    def _encoded(self) -> tuple[tuple[str, str, bool, bytes], ...]:
        """Every whole-run success histogram, encoded (a few KB each, ~0.5 ms each)."""
        endpoints = [(s, False) for s in self._total.values()]
        aggregates = [(s, True) for s in (*self._total_rows.kinds.values(), self._total_rows.everything)]
        return tuple((s.kind, s.name, aggregate, s.hist.encode())
                     for s, aggregate in endpoints + aggregates if s.hist.get_total_count())

    def _distribution(self, bins: int = 60) -> tuple[tuple[float, int], ...]:
        hist = new_histogram()
        for (kind, _), series in self._total.items():
            if kind == Kind.HTTP and series.hist.get_total_count():
                hist.add(series.hist)
        if hist.get_total_count() == 0:
            return ()
        low, high = max(hist.get_min_value(), 1), max(hist.get_max_value(), 2)
        if high <= low:
            high = low + 1
        step = (math.log(high) - math.log(low)) / bins or 1.0
        counts = [0] * bins
        for item in hist.get_recorded_iterator():
            value = max(item.value_iterated_to, low)
            index = min(bins - 1, int((math.log(value) - math.log(low)) / step))
            counts[index] += item.count_added_in_this_iter_step
        return tuple(
            (round(math.exp(math.log(low) + (i + 1) * step) / 1000.0, 3), c) for i, c in enumerate(counts)
        )


class _Aggregates:
    """Per-kind ``Aggregated`` rows and the ``all`` row, kept alongside the endpoint series.

    Interval aggregates are rebuilt each tick into reused histograms; run-long aggregates grow by adding
    only the tick's interval series. A kind with one endpoint (or a run with one kind) reuses that
    row's figures instead of scanning an identical histogram again.
    """

    def __init__(self, open_model: bool) -> None:
        self.open_model = open_model
        self.kinds: dict[str, _Series] = {}
        self.everything = _Series(ALL, AGGREGATED, "", open_model)

    def rows(self, series: dict[tuple[str, str], _Series], seconds: float, reset: bool,
             fresh: dict[tuple[str, str], _Series] | None = None, buckets: bool = False) -> StatsTable:
        """Endpoints sorted by kind and name; apart, each kind's aggregate, then the ``all`` one.

        ``reset``: rebuild the aggregates from ``series`` (interval). Otherwise add ``fresh`` (this tick's
        interval series) to the run-long aggregates.
        """
        if reset:
            for agg in self.kinds.values():
                agg.reset()
            self.everything.reset()
        endpoints: list[EndpointStats] = []
        kinds = sorted({k for k, _ in series}, key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS))
        kind_rows = []
        for kind in kinds:
            agg = self.kinds.get(kind)
            if agg is None:
                agg = self.kinds[kind] = _Series(kind, AGGREGATED, "", self.open_model)
            members = sorted((name, s) for (k, name), s in series.items() if k == kind)
            rows = [s.stats(seconds, buckets) for _, s in members]
            source = series if reset else (fresh or {})
            for (k, name), s in source.items():
                if k == kind and s.active:
                    agg.add_series(s)
                    self.everything.add_series(s)
            endpoints.extend(rows)
            row = replace(rows[0], name=AGGREGATED, method="") if len(rows) == 1 else agg.stats(seconds, buckets)
            kind_rows.append(row)
        if kind_rows:
            kind_rows.append(replace(kind_rows[0], kind=ALL) if len(kind_rows) == 1 else self.everything.stats(seconds, buckets))
        return StatsTable(tuple(endpoints), tuple(kind_rows))
