"""Rows of the Locust-compatible CSV files, of ``timings.csv``, and the per-endpoint records of ``summary.json``.

Both come from the same :class:`EndpointStats` through the same rounding (:func:`ms`, :func:`rate`), so a
number in a CSV file reads back equal to the one in ``summary.json``.
"""

from __future__ import annotations

from ..metrics.snapshot import EndpointStats, ErrorCount, LatencyStats, Snapshot, StatsTable
from ..metrics.kinds import AGGREGATED, ALL, PERCENTILES, TIMINGS, Kind

__all__ = [
    "STATS_HEADER",
    "FAILURES_HEADER",
    "HISTORY_HEADER",
    "TIMINGS_HEADER",
    "PERCENTILE_KEYS",
    "EMPTY",
    "ms",
    "rate",
    "type_of",
    "split",
    "stats_rows",
    "failure_rows",
    "history_rows",
    "timing_rows",
    "stats_record",
    "latency_record",
]

_PCT_COLUMNS = [f"{p:g}%" for p in PERCENTILES]
PERCENTILE_KEYS = tuple(f"p{p:g}" for p in PERCENTILES)
"""``p50`` ... ``p99.99``, ``p100``: the keys of percentile dicts in ``summary.json``."""

STATS_HEADER = [
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time",
    "Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s",
    *_PCT_COLUMNS, "Skipped Count",
]
FAILURES_HEADER = ["Method", "Name", "Error", "Occurrences"]
HISTORY_HEADER = [
    "Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", *_PCT_COLUMNS,
    "Total Request Count", "Total Failure Count", "Total Median Response Time",
    "Total Average Response Time", "Total Min Response Time", "Total Max Response Time",
    "Total Average Content Size",
]
TIMINGS_HEADER = ["Type", "Name", "Timing", "Count", "50% (ms)", "90% (ms)", "99% (ms)", "Max (ms)"]

_TYPES = {Kind.WS_CONNECT: "WS", Kind.WS_PING: "WSPING", Kind.WS_MESSAGE: "WSMSG"}
EMPTY = EndpointStats(ALL, AGGREGATED, "", 0, 0, 0.0, 0.0, 0, LatencyStats(), LatencyStats())
"""The run-wide aggregate of a run without a single sample."""
NA = "N/A"


def ms(value: float) -> float:
    """Milliseconds as reported everywhere: two decimals."""
    return round(value, 2)


def rate(value: float) -> float:
    """Per-second rates as reported everywhere: three decimals."""
    return round(value, 3)


def _ms(value: float) -> str:
    return f"{ms(value):.2f}"


def _rate(value: float) -> str:
    return f"{rate(value):.3f}"


def type_of(stats: EndpointStats | ErrorCount) -> str:
    """The CSV ``Type``: the HTTP method, ``WS``/``WSPING``/``WSMSG``, or empty for the run aggregate."""
    if stats.kind == Kind.HTTP:
        return stats.method or "HTTP"
    if stats.kind == ALL:
        return ""
    return _TYPES.get(stats.kind, stats.kind.upper())


def split(stats: StatsTable) -> tuple[list[EndpointStats], dict[str, EndpointStats]]:
    """Endpoints, and each kind's aggregate (plus ``"all"``) by kind."""
    return list(stats.endpoints), {s.kind: s for s in stats.aggregates}


def _percentiles(lat: LatencyStats) -> list[str]:
    return [_ms(v) for v in lat.percentiles] if lat.count else [NA] * len(PERCENTILES)


def _totals(s: EndpointStats) -> list[str | int]:
    """Counts and times of every sample, failures included (as Locust's CSVs); N/A without a sample."""
    lat = s.all_latency
    times = [_ms(lat.p50), _ms(lat.mean), _ms(lat.min), _ms(lat.max)] if lat.count else [NA] * 4
    return [s.total, s.failures, *times, _ms(s.avg_bytes)]


def stats_rows(final: Snapshot) -> list[list[str | int]]:
    """``results_stats.csv``: one row per endpoint (cumulative), then the run's Aggregated row.

    Times are of every sample, failures included, as Locust writes them; the successes-only figures are
    in summary.json (``latency_ms``) and report.html. ``Skipped Count`` (after Locust's columns): steps
    not run because an earlier step of their iteration failed."""
    endpoints, aggregates = split(final.total_stats)
    rows = []
    for s in [*endpoints, aggregates.get(ALL, EMPTY)]:
        rows.append([type_of(s), s.name, *_totals(s), _rate(s.rps), _rate(s.fps), *_percentiles(s.all_latency),
                     s.skipped])
    return rows


def failure_rows(final: Snapshot) -> list[list[str | int]]:
    """``results_failures.csv``: failures grouped by endpoint and error, most frequent first."""
    return [
        [type_of(e), e.name, f"{e.error}: {e.message}" if e.message else e.error, e.count]
        for e in final.errors
    ]


def history_rows(snapshot: Snapshot) -> list[list[str | int]]:
    """``results_stats_history.csv`` rows of one tick: every endpoint seen so far, then Aggregated.

    Requests/s, Failures/s and the percentiles are the tick's (``interval_stats``); Total* columns are
    cumulative (``total_stats``).
    """
    endpoints, aggregates = split(snapshot.total_stats)
    now, now_agg = split(snapshot.interval_stats)
    by_key = {(s.kind, s.name): s for s in now}
    ts, users = int(snapshot.wall_time), snapshot.users
    rows = []
    for total in [*endpoints, aggregates.get(ALL, EMPTY)]:
        if total.kind == ALL:
            cur = now_agg.get(ALL)
        else:
            cur = by_key.get((total.kind, total.name))
        cur_rps, cur_fps = (cur.rps, cur.fps) if cur else (0.0, 0.0)
        pct = _percentiles(cur.all_latency) if cur else [NA] * len(PERCENTILES)
        rows.append([ts, users, type_of(total), total.name, _rate(cur_rps), _rate(cur_fps), *pct, *_totals(total)])
    return rows


def timing_rows(final: Snapshot) -> list[list[str | int]]:
    """``timings.csv``: each endpoint's timings (:data:`~..metrics.kinds.TIMINGS`: TCP connect, TLS
    handshake, first byte, WebSocket delivery), then the run's Aggregated row's; only those with samples."""
    endpoints, aggregates = split(final.total_stats)
    rows: list[list[str | int]] = []
    for s in [*endpoints, aggregates.get(ALL, EMPTY)]:
        for timing in TIMINGS:
            lat: LatencyStats | None = getattr(s, timing)
            if lat is not None and lat.count:
                rows.append([type_of(s), s.name, timing, lat.count, _ms(lat.p50), _ms(lat.p90), _ms(lat.p99),
                             _ms(lat.max)])
    return rows


def latency_record(lat: LatencyStats | None) -> dict | None:
    """A latency dict for ``summary.json`` (ms), or None without a sample."""
    if lat is None or lat.count == 0:
        return None
    return {
        "count": lat.count,
        "min": ms(lat.min),
        "max": ms(lat.max),
        "mean": ms(lat.mean),
        "percentiles": {k: ms(v) for k, v in zip(PERCENTILE_KEYS, lat.percentiles)},
    }


def stats_record(s: EndpointStats) -> dict:
    """One endpoint (or aggregate) in ``summary.json``."""
    out = {
        "kind": s.kind,
        "type": type_of(s),
        "name": s.name,
        "method": s.method,
        "requests": s.total,
        "successes": s.count,
        "failures": s.failures,
        "error_rate": round(s.error_rate, 6),
        "rps": rate(s.rps),
        "fps": rate(s.fps),
        "latency_ms": latency_record(s.latency),
        "failed_latency_ms": latency_record(s.failed_latency),
        "all_latency_ms": latency_record(s.all_latency),
        "skipped": s.skipped,
        "redirects": s.redirects,
        "avg_bytes": ms(s.avg_bytes),
        "bytes_total": s.bytes_total,
        "statuses": {str(code): n for code, n in s.statuses},
    }
    if s.service is not None:
        out["service_ms"] = latency_record(s.service)
    if s.ttfb is not None or s.connect is not None:
        out["timings_ms"] = {"connect": latency_record(s.connect), "tls": latency_record(s.tls),
                             "ttfb": latency_record(s.ttfb)}
    if s.delivery is not None:  # WebSocket messages with a send stamp
        out.setdefault("timings_ms", {})["delivery"] = latency_record(s.delivery)
    return out
