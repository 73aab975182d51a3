"""One report per host and tick: the reports of a host's worker processes, merged exactly.

Histograms are decoded, added and encoded again (exact, as the aggregator does); counters are summed;
health is the busiest process's (CPU, loop lag) so a saturated process is never averaged away.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Sequence

from hdrh.histogram import HdrHistogram

from ..metrics.hdr import thread_adder
from ..metrics.recorder import new_histogram
from ..metrics.snapshot import EndpointInterval, IntervalReport, WorkerHealth

__all__ = ["merge_reports"]


def _add(hists: list[bytes | None]) -> bytes | None:
    present = [h for h in hists if h]
    if len(present) <= 1:
        return present[0] if present else None
    total: HdrHistogram = new_histogram()
    adder = thread_adder()
    for encoded in present:
        adder.add(total, encoded)
    return total.encode()


def _merge_endpoints(items: list[EndpointInterval]) -> EndpointInterval:
    if len(items) == 1:
        return items[0]
    errors: Counter[tuple[str, str]] = Counter()
    statuses: Counter[int] = Counter()
    for item in items:
        for name, message, n in item.errors:
            errors[(name, message)] += n
        statuses.update(dict(item.statuses))
    first = items[0]
    return EndpointInterval(
        kind=first.kind, name=first.name, method=first.method,
        count=sum(i.count for i in items), failures=sum(i.failures for i in items),
        bytes=sum(i.bytes for i in items),
        hist=_add([i.hist for i in items]), failed_hist=_add([i.failed_hist for i in items]),
        service_hist=_add([i.service_hist for i in items]),
        errors=tuple((name, message, n) for (name, message), n in errors.items()),
        statuses=tuple(sorted(statuses.items())),
        sums_us=(sum(i.sums_us[0] for i in items), sum(i.sums_us[1] for i in items), sum(i.sums_us[2] for i in items)),
        skipped=sum(i.skipped for i in items), redirects=sum(i.redirects for i in items),
        timings=tuple(_add([i.timings[k] for i in items]) for k in range(len(first.timings))),
        timing_sums_us=tuple(sum(i.timing_sums_us[k] for i in items) for k in range(len(first.timing_sums_us))),
    )


def merge_reports(host: int, reports: Sequence[IntervalReport], t_start: float) -> IntervalReport:
    """The reports of one tick from one host's processes as one report of worker ``host``, covering
    ``t_start`` (the host's previous report's end) to the latest ``t_end``."""
    t_end = max(r.t_end for r in reports)
    final = all(r.final for r in reports)
    tick = max(r.tick for r in reports)
    if len(reports) == 1:
        r = reports[0]
        return replace(r, worker=host, tick=tick, t_start=t_start, health=replace(r.health, worker=host))
    by_key: dict[tuple[str, str], list[EndpointInterval]] = {}
    for report in reports:
        for item in report.endpoints:
            by_key.setdefault((item.kind, item.name), []).append(item)
    health = WorkerHealth(
        worker=host,
        cpu_percent=max(r.health.cpu_percent for r in reports),
        loop_lag_ms=max(r.health.loop_lag_ms for r in reports),
        loop_lag_p99_ms=max(r.health.loop_lag_p99_ms for r in reports),
        rss_mb=round(sum(r.health.rss_mb for r in reports), 1),
        stopping=final,
    )
    return IntervalReport(
        worker=host, tick=tick, t_start=t_start, t_end=t_end,
        endpoints=tuple(_merge_endpoints(items) for items in by_key.values()),
        users=sum(r.users for r in reports), target=sum(r.target for r in reports),
        iterations=sum(r.iterations for r in reports), dropped=sum(r.dropped for r in reports),
        http_connections=sum(r.http_connections for r in reports), ws_open=sum(r.ws_open for r in reports),
        ws_connects=sum(r.ws_connects for r in reports), ws_reconnects=sum(r.ws_reconnects for r in reports),
        ws_drops=sum(r.ws_drops for r in reports), ws_messages_in=sum(r.ws_messages_in for r in reports),
        ws_messages_out=sum(r.ws_messages_out for r in reports), health=health, final=final,
        ws_messages_timed_at_read=sum(r.ws_messages_timed_at_read for r in reports),
    )
