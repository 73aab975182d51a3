"""``--cluster``: what running on Dask costs, and how far one coordinator goes.

    python bench/cluster.py compare     # --workers 2 here vs --cluster local:2, alternating (~2 min)
    python bench/cluster.py latency     # report delivery latency per tick on --cluster local:2 (~20 s)
    python bench/cluster.py simulate    # coordinator CPU per tick for 10/100/1000 synthetic hosts (~1 min)
    python bench/cluster.py all [--quick]

compare: against the bench nginx of bench/common.py (pinned to CPU 0), the same profile (closed model, 100
users, no think time, one GET) with ``--workers 2`` and with ``--cluster local:2`` (one worker process per
host), alternating. Targets: req/s ratio cluster/local >= 0.95; CPU per request within 10 %. CPU per
request is the process tree's CPU over the load window only (from the summary's started_at/ended_at, less
1 s at each end), so the LocalCluster's start-up and shut-down are not counted.

latency: in-process, a Session on ``--cluster local:2`` against the same nginx; for every tick report,
the run's clock at its arrival at the coordinator minus the report's ``t_end``. Target: p99 < 100 ms.

simulate: no cluster: the coordinator's per-tick work fed with synthetic host reports (20 endpoints each,
histograms encoded as workers send them): unpickle (what Dask's comm does), the pool's bookkeeping
(Host.add), Aggregator.add, then the tick's snapshot. Target: 100 hosts < 200 ms of CPU a tick.

Only 127.0.0.1 is contacted; every run is bounded in time. Results: bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import RESULTS, Nginx, ensure_apt, ensure_py, get_profile, log, median, provenance, run_measured  # noqa: E402

USERS = 100


def _cpu_between(samples: list[tuple[float, float]], t1: float, t2: float) -> float:
    """Tree CPU seconds spent between t1 and t2 (seconds since the process started), interpolated."""
    def at(t: float) -> float:
        for (ta, ca), (tb, cb) in zip(samples, samples[1:]):
            if ta <= t <= tb:
                return ca + (cb - ca) * (t - ta) / max(tb - ta, 1e-9)
        return samples[-1][1] if t > samples[-1][0] else samples[0][1]
    return at(t2) - at(t1)


def compare_one(mode: str, profile: Path, seconds: int, nginx: Nginx, work: Path) -> dict:
    extra = ["--workers", "2"] if mode == "local" else ["--cluster", "local:2", "--workers", "1"]
    argv = [sys.executable, "-m", "liminal_tui", "--run", str(profile), "--json", "-q", "--no-report", *extra]
    started = time.time()
    m = run_measured(argv, None, timeout=seconds + 90, cwd=work, server_pids=nginx.pids())
    row: dict = {"mode": mode, "rc": m.rc, "wall_s": round(m.wall, 2), "cpu_s": round(m.cpu, 3),
                 "foreign_cpu_s": round(m.foreign_cpu, 3)}
    try:
        d = json.loads(m.stdout)
    except ValueError:
        row["error"] = m.stderr[-800:]
        return row
    e = next(x for x in d["endpoints"] if x["kind"] == "http")
    t1 = datetime.fromisoformat(d["started_at"]).timestamp() - started + 1.0
    t2 = datetime.fromisoformat(d["ended_at"]).timestamp() - started - 1.0
    window_cpu = _cpu_between(m.samples, t1, t2)
    row.update(requests=e["requests"], failures=e["failures"], rps=e["rps"], p99_ms=e["latency_ms"]["percentiles"]["p99"],
               window_s=round(t2 - t1, 2), window_cpu_s=round(window_cpu, 3),
               cpu_us_per_req=round(window_cpu / max(e["rps"] * (t2 - t1), 1) * 1e6, 1),
               saturated_s=d["generator"]["saturated_seconds"])
    return row


def compare(rounds: int, seconds: int, nginx: Nginx, work: Path) -> dict:
    profile = work / "cluster.toml"
    profile.write_text(get_profile("bench-cluster", nginx.url, seconds,
                                   f"model = \"closed\"\nusers = {USERS}\nspawn_rate = 100000\nthink_time = 0"))
    runs = []
    for rnd in range(rounds):
        for mode in (("local", "cluster") if rnd % 2 == 0 else ("cluster", "local")):
            row = compare_one(mode, profile, seconds, nginx, work)
            row["round"] = rnd + 1
            runs.append(row)
            if "error" in row:
                log(f"round {rnd + 1} {mode}: ERROR {row['error']}")
            else:
                log(f"round {rnd + 1} {mode:8s} {row['rps']:>8,.0f} req/s  {row['cpu_us_per_req']:.0f} us/req  "
                    f"p99 {row['p99_ms']:.2f} ms  foreign {row['foreign_cpu_s']:.1f}s")
            time.sleep(1.0)
    ok = [r for r in runs if "error" not in r]
    res = {m: {k: median([r[k] for r in ok if r["mode"] == m]) for k in ("rps", "cpu_us_per_req", "p99_ms")}
           for m in ("local", "cluster")}
    rps_ratio = res["cluster"]["rps"] / res["local"]["rps"]
    cpu_ratio = res["cluster"]["cpu_us_per_req"] / res["local"]["cpu_us_per_req"]
    print(f"\ncompare: median of {rounds} round(s) x {seconds}s, {USERS} users")
    print("mode        req/s   CPU us/req   p99 ms")
    for m in ("local", "cluster"):
        print(f"{m:8s} {res[m]['rps']:9,.0f}  {res[m]['cpu_us_per_req']:10.0f}  {res[m]['p99_ms']:7.2f}")
    print(f"{'PASS' if rps_ratio >= 0.95 else 'FAIL'}  req/s cluster/local {rps_ratio:.3f} (>= 0.95)")
    print(f"{'PASS' if abs(cpu_ratio - 1) <= 0.10 else 'FAIL'}  CPU per request cluster/local {cpu_ratio:.3f} (within 10 %)")
    return {"summary": res, "rps_ratio": rps_ratio, "cpu_ratio": cpu_ratio, "runs": runs}


async def _latency(seconds: int, url: str) -> list[float]:
    from liminal_tui.cluster import parse_cluster
    from liminal_tui.engine.messages import IntervalReport
    from liminal_tui.profile import parse_profile
    from liminal_tui.session import Session

    profile = parse_profile(get_profile("bench-cluster-latency", url, seconds,
                                        "model = \"closed\"\nusers = 50\nspawn_rate = 100000\nthink_time = 0"), source="bench")
    session = Session(profile, workers=1, report_base=None, cluster=parse_cluster("local:2"))
    session.prepare()
    delays: list[float] = []
    run = session.run
    on_event = run._on_event

    def timed(event) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, IntervalReport) and not event.final:
            delays.append((run.elapsed - event.t_end) * 1000.0)
        on_event(event)

    run._on_event = timed  # type: ignore[method-assign]  # the run hands this to the pool at start
    await session.start()
    await session.finish()
    return delays


def latency(seconds: int, nginx: Nginx) -> dict:
    delays = sorted(asyncio.run(_latency(seconds, nginx.url)))
    p = lambda q: delays[min(len(delays) - 1, int(len(delays) * q))]  # noqa: E731
    res = {"reports": len(delays), "p50_ms": round(p(0.5), 2), "p99_ms": round(p(0.99), 2), "max_ms": round(delays[-1], 2)}
    print(f"\nlatency: {res['reports']} tick reports, delivery p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, max {res['max_ms']} ms")
    print(f"{'PASS' if res['p99_ms'] < 100 else 'FAIL'}  report delivery p99 < 100 ms")
    return res


def _synthetic_reports(endpoints: int = 20, samples: int = 200) -> list:
    from liminal_tui.metrics.recorder import Recorder
    from liminal_tui.metrics.snapshot import IntervalReport, WorkerHealth

    rng = random.Random(1)
    variants = []
    for v in range(4):  # a few different reports, so no two hosts send the same bytes
        rec = Recorder()
        eps = [rec.endpoint("http", f"GET /api/{i}", "GET") for i in range(endpoints)]
        for ep in eps:
            for _ in range(samples):
                ep.success(int(rng.lognormvariate(8.5, 0.6) * 1000), 512, 200)
            if rng.random() < 0.3:
                ep.failure(int(rng.lognormvariate(9, 0.5) * 1000), "HTTP 503", "Service Unavailable", 0, 503)
        variants.append(IntervalReport(
            worker=0, tick=1, t_start=0.0, t_end=1.0, endpoints=rec.drain(), users=100, target=100.0,
            iterations=endpoints * samples, dropped=0, http_connections=100, ws_open=0, ws_connects=0,
            ws_reconnects=0, ws_drops=0, ws_messages_in=0, ws_messages_out=0,
            health=WorkerHealth(0, 55.0, 3.0, 2.0, 120.0)))
    return variants


def simulate(ticks: int, sizes: list[int]) -> dict:
    from dataclasses import replace

    from liminal_tui.cluster.hosts import Host
    from liminal_tui.metrics.aggregate import Aggregator

    variants = _synthetic_reports()
    wire = [pickle.dumps(v) for v in variants]
    out = {}
    for n in sizes:
        agg = Aggregator("sim", "http://sim", "closed", 3600.0, 1.0)
        hosts = [Host(i, f"tcp://10.0.{i // 250}.{i % 250}:40000", "sim", "0.1.0", 1) for i in range(n)]
        per_tick = []
        for tick in range(1, ticks + 1):
            c0 = time.process_time()
            for host in hosts:
                report = replace(pickle.loads(wire[host.index % len(wire)]), worker=host.index, tick=tick,
                                 t_start=tick - 1.0, t_end=float(tick))
                host.add(report)
                agg.add(report)
            agg.snapshot("steady", float(tick), upto_tick=tick)
            per_tick.append((time.process_time() - c0) * 1000.0)
        out[n] = {"median_ms": round(median(per_tick), 1), "max_ms": round(max(per_tick), 1)}
        print(f"simulate: {n:5d} hosts x 20 endpoints: coordinator CPU per tick median {out[n]['median_ms']:8.1f} ms, "
              f"max {out[n]['max_ms']:8.1f} ms")
    if 100 in out:
        print(f"{'PASS' if out[100]['median_ms'] < 200 else 'FAIL'}  100 hosts < 200 ms of CPU a tick")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="--cluster costs and coordinator scale (127.0.0.1 only)")
    ap.add_argument("what", choices=["compare", "latency", "simulate", "all"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--out", type=Path, default=RESULTS / "cluster.json")
    args = ap.parse_args()
    rounds = max(1, min(args.rounds or (1 if args.quick else 3), 10))
    seconds = max(5, min(args.seconds or (8 if args.quick else 15), 60))
    load0 = os.getloadavg()[0]
    if load0 >= 1.5:
        print(f"CAVEAT: load average {load0:.2f} >= 1.5 before the bench: figures are from a loaded machine")
    result: dict = {"command": " ".join(["python", "bench/cluster.py", *sys.argv[1:]]), "provenance": provenance(),
                    "cores": len(os.sched_getaffinity(0)), "loadavg_before": load0}
    if args.what in ("simulate", "all"):
        result["simulate"] = simulate(3 if args.quick else 5, [10, 100] if args.quick else [10, 100, 1000])
    if args.what in ("compare", "latency", "all"):
        ensure_apt("nginx")
        ensure_py("psutil")
        work = Path(tempfile.mkdtemp(prefix="liminal-bench-cluster-"))
        with Nginx(cpu=0) as nginx:
            if args.what in ("latency", "all"):
                result["latency"] = latency(seconds, nginx)
            if args.what in ("compare", "all"):
                result["compare"] = compare(rounds, seconds, nginx, work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
