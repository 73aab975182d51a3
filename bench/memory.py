"""Memory and recording cost of the metrics path, without a network: is RSS flat over a long run?

    python bench/memory.py            # 10 million samples: 3600 ticks x ~2800 samples, 10 endpoints
    python bench/memory.py --quick    # 1 million samples (360 ticks)

Feeds samples through the real engine objects: ``Recorder`` / ``EndpointRecorder.success`` (and a few
``failure`` calls) in the worker's role, then every tick ``Recorder.drain()`` -> ``IntervalReport`` ->
``Aggregator.add`` + ``Aggregator.snapshot()`` in the main process's role, as a run does each second.
Prints RSS at intervals and the recording cost (us per sample for ``success()`` alone, and per sample
for the whole tick including drain + snapshot). Targets: RSS flat, final RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import provenance, RESULTS  # noqa: E402

from liminal_tui.metrics.aggregate import Aggregator  # noqa: E402
from liminal_tui.metrics.recorder import Recorder  # noqa: E402
from liminal_tui.metrics.snapshot import IntervalReport, WorkerHealth  # noqa: E402

ENDPOINTS = 10
RSS_LIMIT_MB = 150.0


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="360 ticks (1 million samples)")
    ap.add_argument("--ticks", type=int)
    ap.add_argument("--per-tick", type=int, default=2800)
    args = ap.parse_args()
    ticks = max(1, min(args.ticks or (360 if args.quick else 3600), 36_000))
    per_tick = max(1, min(args.per_tick, 100_000))

    rnd = random.Random(7)
    # Latencies spread like a real run: mostly 1-50 ms, a long tail to a few seconds (in ns).
    pool = [int(rnd.lognormvariate(15.5, 0.9)) for _ in range(65_536)]
    mask = len(pool) - 1
    rec = Recorder(open_model=False)
    eps = [rec.endpoint("http", f"GET /api/item/{i}", "GET") for i in range(ENDPOINTS)]
    agg = Aggregator("memory-bench", "http://127.0.0.1", "closed", float(ticks), 1.0)
    health = WorkerHealth(0, 50.0, 1.0, 1.0, 0.0)

    gc.collect()
    rss0 = rss_mb()
    print(f"start: RSS {rss0:.1f} MB; {ticks} ticks x {per_tick} samples over {ENDPOINTS} endpoints "
          f"= {ticks * per_tick:,} samples")
    record_ns = tick_ns = drain_ns = 0
    samples = 0
    points = []
    every = max(1, ticks // 12)
    j = 0
    t_all = time.perf_counter_ns()
    for tick in range(1, ticks + 1):
        t0 = time.perf_counter_ns()
        for i in range(per_tick):
            ep = eps[i % ENDPOINTS]
            if i % 500 == 499:
                ep.failure(pool[j & mask], "HTTP 503", "Service Unavailable", 20, 503)
            else:
                ep.success(pool[j & mask], 120, 200)
            j += 1
        t1 = time.perf_counter_ns()
        drained = rec.drain()
        drain_ns += time.perf_counter_ns() - t1
        report = IntervalReport(worker=0, tick=tick, t_end=float(tick), endpoints=drained, users=50,
                                target=50.0, iterations=per_tick, dropped=0, http_connections=50, ws_open=0,
                                ws_connects=0, ws_reconnects=0, ws_drops=0, ws_messages_in=0, ws_messages_out=0,
                                health=health, final=False)
        agg.add(report)
        agg.snapshot("steady", float(tick))
        t2 = time.perf_counter_ns()
        record_ns += t1 - t0
        tick_ns += t2 - t0
        samples += per_tick
        if tick % every == 0 or tick == ticks:
            r = rss_mb()
            points.append({"tick": tick, "samples": samples, "rss_mb": round(r, 1)})
            print(f"tick {tick:5d}  samples {samples:>11,}  RSS {r:6.1f} MB")
    final = agg.snapshot("finished", float(ticks), final=True)
    wall = (time.perf_counter_ns() - t_all) / 1e9
    total = final.find("http")
    assert total.count + total.failures == samples, (total.count, total.failures, samples)
    rss_end = rss_mb()  # as a run would see it: no forced collection
    peak = max(p["rss_mb"] for p in points)
    gc.collect()
    rss_gc = rss_mb()
    # Flat: RSS a quarter of the way in vs at the end (the first ticks fill the allocator's pools).
    base = points[min(len(points) - 1, len(points) // 4)]["rss_mb"]
    growth = rss_end - base
    flat = growth < 10.0
    under = peak < RSS_LIMIT_MB and rss_end < RSS_LIMIT_MB
    us_record = record_ns / samples / 1e3
    us_tick = tick_ns / samples / 1e3
    print(f"end: RSS {rss_end:.1f} MB, peak {peak:.1f} MB (start {rss0:.1f}; at tick {points[min(len(points) - 1, len(points) // 4)]['tick']} "
          f"{base:.1f}, growth since {growth:+.1f} MB); after a forced gc.collect() {rss_gc:.1f} MB")
    print(f"recording: {us_record:.3f} us/sample in success()/failure() ({1e6 / us_record:,.0f} samples/s); "
          f"{us_tick:.3f} us/sample with drain + snapshot each tick ({1e6 / us_tick:,.0f} samples/s); "
          f"{(tick_ns - record_ns) / ticks / 1e6:.2f} ms per tick for drain + snapshot "
          f"(worker's drain {drain_ns / ticks / 1e6:.2f} ms, main's snapshot {(tick_ns - record_ns - drain_ns) / ticks / 1e6:.2f} ms); "
          f"wall {wall:.1f}s")
    print(f"check: {total.count:,} successes + {total.failures:,} failures = {samples:,} samples; "
          f"p50 {total.latency.p50:.2f} ms, p99 {total.latency.p99:.2f} ms")
    print(f"{'PASS' if flat else 'FAIL'}  RSS flat (growth over the last three quarters < 10 MB): {growth:+.1f} MB")
    print(f"{'PASS' if under else 'FAIL'}  final and peak RSS < {RSS_LIMIT_MB:.0f} MB: {rss_end:.1f} / {peak:.1f} MB")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps({
        "provenance": provenance(), "ticks": ticks, "per_tick": per_tick, "endpoints": ENDPOINTS, "samples": samples,
        "rss_start_mb": round(rss0, 1), "rss_end_mb": round(rss_end, 1), "rss_peak_mb": round(peak, 1),
        "rss_after_gc_collect_mb": round(rss_gc, 1), "growth_mb": round(growth, 1),
        "us_per_sample_record": round(us_record, 3), "us_per_sample_with_tick": round(us_tick, 3),
        "ms_per_tick_drain_snapshot": round((tick_ns - record_ns) / ticks / 1e6, 2),
        "ms_per_tick_drain": round(drain_ns / ticks / 1e6, 2),
        "ms_per_tick_snapshot": round((tick_ns - record_ns - drain_ns) / ticks / 1e6, 2),
        "points": points, "passed": {"flat": flat, "under_150mb": under},
    }, indent=2))
    return 0 if flat and under else 1


if __name__ == "__main__":
    sys.exit(main())
