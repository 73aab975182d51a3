"""Where does liminal-tui's per-request CPU go? The bare aiohttp loop with liminal's choices added one at a time.

    python bench/variants.py            # 2 rounds x 8 variants x 6 s against a private nginx
    python bench/variants.py --quick    # 1 round x 4 s

Each variant runs in its own process pinned to CPU 1 (nginx on CPU 0), 50 tasks on one ClientSession,
uvloop, and reports requests/s and CPU per request measured inside the process over the load window only
(no start-up). Variants (cumulative where marked +):

    base        bench/bare_aiohttp.py's loop
    timeouts    ClientTimeout(total=60, sock_connect=5, sock_read=30) as engine/clients/http.py sets it
    session     + UA header with skip_auto_headers, DummyCookieJar, TCPConnector(ttl_dns_cache, cleanup off)
    kwargs      + request(method, url, headers={}, params=None, data=None, json=None, allow_redirects=False)
    yield       + asyncio.sleep(0) after each iteration (engine/load.py ClosedLoad._loop)
    record      + HdrHistogram.record_value + status Counter per request (metrics/recorder.py)
    liminal     the engine itself in this process: Worker with the bench profile (workers=0 path)

Only 127.0.0.1 is contacted; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS = ["base", "timeouts", "session", "kwargs", "yield", "record", "liminal"]


async def loop_variant(url: str, variant: str, seconds: float) -> dict:
    import aiohttp

    level = VARIANTS.index(variant)
    kw: dict = {}
    if level >= 1:
        kw["timeout"] = aiohttp.ClientTimeout(total=60.0, sock_connect=5.0, sock_read=30.0)
    if level >= 2:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ssl=None, ttl_dns_cache=300, enable_cleanup_closed=False)
        kw.update(cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=("User-Agent",),
                  headers={"User-Agent": "liminal-tui"}, auto_decompress=True)
    else:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    hist = statuses = None
    if level >= 5:
        from liminal_tui.metrics.recorder import new_histogram

        hist, statuses = new_histogram(), Counter()
    count = 0
    async with aiohttp.ClientSession(connector=connector, **kw) as session:
        # warm up the connections, then measure
        end = time.perf_counter() + 0.5

        async def user(measure_end: float) -> None:
            nonlocal count
            while time.perf_counter() < measure_end:
                t0 = time.perf_counter_ns()
                if level >= 3:
                    cm = session.request("GET", url, headers={}, params=None, data=None, json=None, allow_redirects=False)
                else:
                    cm = session.get(url)
                async with cm as resp:
                    await resp.read()
                    ok = resp.status == 200
                if hist is not None:
                    hist.record_value(max(1, (time.perf_counter_ns() - t0) // 1000))
                    statuses[resp.status] += 1
                if ok:
                    count += 1
                if level >= 4:
                    await asyncio.sleep(0)

        await asyncio.gather(*(user(end) for _ in range(50)))
        count = 0
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(user(w0 + seconds) for _ in range(50)))
        c1, w1 = time.process_time(), time.perf_counter()
    return {"requests": count, "rps": count / (w1 - w0), "cpu_us_per_req": (c1 - c0) / max(count, 1) * 1e6,
            "busy_pct": (c1 - c0) / (w1 - w0) * 100}


async def liminal_variant(url: str, seconds: float) -> dict:
    from liminal_tui.engine.clock import RunClock
    from liminal_tui.engine.worker import Worker, WorkerSpec
    from liminal_tui.profile.loader import parse_profile
    from run import PROFILE

    profile = parse_profile(PROFILE.format(url=url, seconds=int(seconds + 1.5), users=50))
    reports = []
    spec = WorkerSpec(0, 1, profile, url, 0.5, 1.0)
    worker = Worker(spec, RunClock.now(), reports.append)
    marks: list[tuple[float, float, int]] = []

    def on_report(report) -> None:
        reports.append(report)
        n = sum(e.count for e in report.endpoints)
        marks.append((time.perf_counter(), time.process_time(), n))

    worker.emit = on_report
    await worker.run()
    # Ticks are 0.5 s: skip the first second (connections opening) and the last (stopping).
    steady = marks[2:-2]
    if len(steady) < 2:
        return {"requests": 0, "rps": 0.0, "cpu_us_per_req": float("nan"), "busy_pct": 0.0}
    n = sum(m[2] for m in steady[1:])
    wall = steady[-1][0] - steady[0][0]
    cpu = steady[-1][1] - steady[0][1]
    return {"requests": n, "rps": n / wall, "cpu_us_per_req": cpu / n * 1e6, "busy_pct": cpu / wall * 100}


def child(url: str, variant: str, seconds: float) -> None:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        if variant == "liminal":
            out = runner.run(liminal_variant(url, seconds))
        else:
            out = runner.run(loop_variant(url, variant, seconds))
    print(json.dumps(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]))
        return 0
    from common import Nginx, ensure_apt, median

    ensure_apt("nginx")
    rounds, seconds = (1, 4) if args.quick else (2, 6)
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    with Nginx(cpu=0) as nginx:
        for rnd in range(rounds):
            for v in VARIANTS:
                p = subprocess.run(["taskset", "-c", "1", sys.executable, __file__, "--child", nginx.url + "/", v, str(seconds)],
                                   capture_output=True, text=True, timeout=seconds + 60)
                if p.returncode != 0:
                    print(f"{v}: failed: {p.stderr[-500:]}", file=sys.stderr)
                    continue
                r = json.loads(p.stdout.strip().splitlines()[-1])
                results[v].append(r)
                print(f"round {rnd + 1} {v:9s} {r['rps']:8,.0f} req/s  {r['cpu_us_per_req']:6.1f} us/req  "
                      f"busy {r['busy_pct']:.0f}%", file=sys.stderr)
    base = median([r["cpu_us_per_req"] for r in results["base"]])
    print(f"{'variant':10s} {'req/s':>8s} {'CPU us/req':>11s} {'vs base':>8s}")
    for v, rs in results.items():
        if rs:
            cpu = median([r["cpu_us_per_req"] for r in rs])
            print(f"{v:10s} {median([r['rps'] for r in rs]):8,.0f} {cpu:11.1f} {cpu - base:+8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
