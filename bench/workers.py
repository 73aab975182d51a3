"""``--workers auto`` scaling: CPU per request with 1 worker process and with one per core, same total users.

    python bench/workers.py            # 3 rounds x (1 worker, auto) x 10 s  (~1.5 min)
    python bench/workers.py --quick    # 1 round  x (1 worker, auto) x 5 s   (~20 s)

Against the bench nginx of bench/common.py (1 nginx worker, ``return 200 "ok"``, pinned to CPU 0), runs

    liminal-tui --run <profile> --json -q --no-report --workers 1
    liminal-tui --run <profile> --json -q --no-report --workers auto

alternating, closed model, 100 users, no think time, one GET. The generator is NOT pinned (the workers must
be free to spread over the cores). CAVEAT: on a 2-core machine nginx holds one core, so 2 workers share
the other core with nginx and each other: requests/s cannot scale; this bench checks that splitting the
load over processes does not cost more CPU per request (target: auto within 10 % of 1 worker).

CPU per request: user+sys of the whole process tree (wait4 + /proc, startup and the main process included)
/ requests, and the workers' CPU alone / requests. Results: bench/results/workers.json.
Only 127.0.0.1 is contacted; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, Nginx, ensure_apt, ensure_py, get_profile, liminal_cmd, log, median, provenance, run_measured  # noqa: E402

USERS = 100


def one(workers: str, profile: Path, seconds: int, nginx: Nginx, work: Path) -> dict:
    argv = [*liminal_cmd(), "--run", str(profile), "--json", "-q", "--no-report", "--workers", workers]
    m = run_measured(argv, None, timeout=seconds + 60, cwd=work, server_pids=nginx.pids())
    row = {"workers": workers, "rc": m.rc, "wall_s": round(m.wall, 2), "cpu_s": round(m.cpu, 3),
           "server_cpu_s": round(m.server_cpu, 3), "foreign_cpu_s": round(m.foreign_cpu, 3),
           "cpu_by_process_s": m.per_process}
    try:
        d = json.loads(m.stdout)
    except ValueError:
        row["error"] = m.stderr[-500:]
        return row
    e = next(x for x in d["endpoints"] if x["kind"] == "http")
    row.update(requests=e["requests"], failures=e["failures"], rps=e["rps"], n_workers=d["settings"]["workers"],
               p99_ms=e["latency_ms"]["percentiles"]["p99"], saturated_s=d["generator"]["saturated_seconds"],
               worker_max_cpu=[w["max_cpu_percent"] for w in d["generator"]["workers"]])
    if e["requests"]:
        row["cpu_us_per_req"] = round(m.cpu / e["requests"] * 1e6, 1)
        row["worker_cpu_us_per_req"] = round(m.per_process.get("worker", 0.0) / e["requests"] * 1e6, 1)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description="CPU per request: --workers 1 vs --workers auto (127.0.0.1 only)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--out", type=Path, default=RESULTS / "workers.json")
    args = ap.parse_args()
    rounds = max(1, min(args.rounds or (1 if args.quick else 3), 10))
    seconds = max(3, min(args.seconds or (5 if args.quick else 10), 60))
    ensure_apt("nginx")
    ensure_py("psutil")
    cores = len(os.sched_getaffinity(0))
    print(f"CAVEAT: {cores} cores; nginx is pinned to CPU 0 and the generator is not pinned, so with "
          f"{'2 cores nginx and the workers share the machine' if cores <= 2 else 'nginx on one core'}: "
          f"requests/s cannot scale here; compare CPU per request.")
    load0 = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="liminal-bench-workers-"))
    runs: list[dict] = []
    with Nginx(cpu=0) as nginx:
        profile = work / "workers.toml"
        profile.write_text(get_profile("bench-workers", nginx.url, seconds,
                                       f"model = \"closed\"\nusers = {USERS}\nspawn_rate = 100000\nthink_time = 0"))
        for rnd in range(rounds):
            for w in (("1", "auto") if rnd % 2 == 0 else ("auto", "1")):
                row = one(w, profile, seconds, nginx, work)
                row["round"] = rnd + 1
                runs.append(row)
                if "error" in row:
                    log(f"round {rnd + 1} --workers {w}: ERROR {row['error']}")
                else:
                    log(f"round {rnd + 1} --workers {w:4s} ({row['n_workers']}) {row['rps']:>8,.0f} req/s  "
                        f"{row['cpu_us_per_req']:.0f} us/req (workers {row['worker_cpu_us_per_req']:.0f})  "
                        f"foreign {row['foreign_cpu_s']:.1f}s")
                time.sleep(1.0)
    ok = [r for r in runs if "error" not in r]
    res = {}
    for w in ("1", "auto"):
        rs = [r for r in ok if r["workers"] == w]
        res[w] = {k: median([r[k] for r in rs]) for k in ("rps", "cpu_us_per_req", "worker_cpu_us_per_req", "p99_ms")}
        res[w]["n_workers"] = rs[0]["n_workers"] if rs else None
    ratio = res["auto"]["cpu_us_per_req"] / res["1"]["cpu_us_per_req"]
    wratio = res["auto"]["worker_cpu_us_per_req"] / res["1"]["worker_cpu_us_per_req"]
    print()
    print(f"median of {rounds} round(s) x {seconds}s, {USERS} users, nginx on CPU 0, generator unpinned")
    print("workers       req/s   CPU us/req (tree)   CPU us/req (workers)   p99 ms")
    for w in ("1", "auto"):
        r = res[w]
        print(f"{w + ' (' + str(r['n_workers']) + ')':9s}  {r['rps']:9,.0f}  {r['cpu_us_per_req']:18.0f}  "
              f"{r['worker_cpu_us_per_req']:21.0f}  {r['p99_ms']:7.2f}")
    passed = ratio <= 1.10
    print(f"ratio auto/1: tree {ratio:.3f}, workers only {wratio:.3f}")
    print(f"{'PASS' if passed else 'FAIL'}  CPU per request with --workers auto within 10 % of --workers 1: {ratio:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": " ".join(["python", "bench/workers.py", *sys.argv[1:]]), "provenance": provenance(),
        "cores": cores, "loadavg_before": load0, "users": USERS, "seconds": seconds, "rounds": rounds,
        "summary": res, "ratio_tree": ratio, "ratio_workers": wratio, "passed": passed, "runs": runs,
    }, indent=1))
    print(f"written: {args.out}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
