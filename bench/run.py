"""Requests/s, latency and CPU per request: liminal-tui against wrk, Locust and a bare aiohttp loop.

    python bench/run.py            # 3 rounds x 5 generators x 10 s  (~4 minutes)
    python bench/run.py --quick    # 1 round  x 5 generators x 5 s   (~1 minute)

Sets itself up: installs nginx and wrk with apt-get when missing, creates bench/.venv-locust with Locust
from PyPI, writes a private nginx config to a temp dir (1 worker, ``return 200 "ok"``, access_log off,
a free 127.0.0.1 port), pins nginx to CPU 0 and each generator to CPU 1 with taskset, and runs the
generators in alternation (round 1: all of them, round 2: all of them, ...), 50 keep-alive connections
or users each, no think time:

    wrk          wrk -t1 -c50 --latency
    locust-fast  Locust FastHttpUser, headless, -u 50 -r 50
    locust-http  Locust HttpUser, headless, -u 50 -r 50
    bare-aiohttp bench/bare_aiohttp.py: 50 tasks on one aiohttp ClientSession, uvloop
    liminal      liminal-tui --run <profile> --json -q --no-report --workers 1 (closed model, 50 users,
                 one GET with a status check)

Per run: requests/s, p50 and p99 as each tool reports them, and CPU per request of the generator's
whole process tree (user+sys seconds from wait4 and /proc, startup included, divided by requests).
Prints one table of medians with ratios to wrk, Locust FastHttpUser and bare aiohttp, writes
bench/results/requests.json, and checks the targets (exit code 1 if one fails):

    liminal >= 1.5 x Locust FastHttpUser      liminal >= 0.85 x bare aiohttp      (requests/s)

Only 127.0.0.1 is ever contacted; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    get_profile, provenance,
    BENCH, RESULTS, Measured, Nginx, ensure_apt, ensure_locust, ensure_py, liminal_cmd, log, median,
    run_measured,
)

USERS = 50
GEN_CPU = 1
SERVER_CPU = 0

LOCUSTFILE = '''\
from locust import {cls}, constant, task


class Bench({cls}):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")  # Locust marks any status >= 400 as a failure
'''



def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


# ---------------------------------------------------------------- generators: argv + parser


def gen_wrk(url: str, seconds: int, work: Path) -> tuple[list[str], Callable[[Measured], dict]]:
    def parse(m: Measured) -> dict:
        out = m.stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
        failures = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in errs.groups()) if errs else 0)
        return {"requests": requests, "failures": failures, "rps": rps, "p50_ms": p50, "p99_ms": p99}

    return ["wrk", "-t1", f"-c{USERS}", f"-d{seconds}s", "--latency", url + "/"], parse


def _gen_locust(cls: str) -> Callable:
    def gen(url: str, seconds: int, work: Path) -> tuple[list[str], Callable[[Measured], dict]]:
        locustfile = work / f"locust_{cls}.py"
        locustfile.write_text(LOCUSTFILE.format(cls=cls))
        prefix = work / f"locust_{cls}_{time.monotonic_ns()}"

        def parse(m: Measured) -> dict:
            with open(f"{prefix}_stats.csv", newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
            row = rows[-1]
            return {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                    "rps": float(row["Requests/s"]), "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"])}

        argv = [str(ensure_locust()), "-f", str(locustfile), "--headless", "-u", str(USERS), "-r", str(USERS),
                "-t", f"{seconds}s", "--host", url, "--csv", str(prefix), "--loglevel", "WARNING",
                "--stop-timeout", "2"]
        return argv, parse
    return gen


def gen_bare(url: str, seconds: int, work: Path) -> tuple[list[str], Callable[[Measured], dict]]:
    def parse(m: Measured) -> dict:
        d = json.loads(m.stdout.strip().splitlines()[-1])
        return {k: d[k] for k in ("requests", "failures", "rps", "p50_ms", "p99_ms")}

    return [sys.executable, str(BENCH / "bare_aiohttp.py"), url + "/", "-c", str(USERS), "-d", str(seconds)], parse


def gen_liminal(url: str, seconds: int, work: Path) -> tuple[list[str], Callable[[Measured], dict]]:
    profile = work / "liminal_requests.toml"
    profile.write_text(get_profile("bench-requests", url, seconds,
                                   f"model = \"closed\"\nusers = {USERS}\nspawn_rate = 100000\nthink_time = 0"))

    def parse(m: Measured) -> dict:
        d = json.loads(m.stdout)
        e = next(x for x in d["endpoints"] if x["kind"] == "http")
        p = e["latency_ms"]["percentiles"]
        return {"requests": e["requests"], "failures": e["failures"], "rps": e["rps"], "p50_ms": p["p50"],
                "p99_ms": p["p99"], "liminal_saturated_s": d["generator"]["saturated_seconds"],
                "liminal_actual_s": d["duration"]["actual_s"]}

    return [*liminal_cmd(), "--run", str(profile), "--json", "-q", "--no-report", "--workers", "1"], parse


GENERATORS: dict[str, Callable] = {
    "wrk": gen_wrk,
    "locust-fast": _gen_locust("FastHttpUser"),
    "locust-http": _gen_locust("HttpUser"),
    "bare-aiohttp": gen_bare,
    "liminal": gen_liminal,
}
LABELS = {"wrk": "wrk -t1 -c50", "locust-fast": "Locust FastHttpUser", "locust-http": "Locust HttpUser",
          "bare-aiohttp": "bare aiohttp loop", "liminal": "liminal-tui --workers 1"}
TARGETS = [("liminal", "locust-fast", 1.5), ("liminal", "bare-aiohttp", 0.85)]


def one_run(name: str, url: str, seconds: int, work: Path, nginx: Nginx) -> dict:
    argv, parse = GENERATORS[name](url, seconds, work)
    m = run_measured(argv, GEN_CPU, timeout=seconds + 60, cwd=work, server_pids=nginx.pids())
    row: dict = {"tool": name, "rc": m.rc, "wall_s": round(m.wall, 3), "cpu_s": round(m.cpu, 3),
                 "server_cpu_s": round(m.server_cpu, 3), "foreign_cpu_s": round(m.foreign_cpu, 3),
                 "cpu_by_process_s": m.per_process}
    try:
        row.update(parse(m))
    except Exception as exc:  # keep the run, mark it broken
        row["error"] = f"{type(exc).__name__}: {exc}; stderr: {m.stderr[-400:]}"
        return row
    if row["requests"]:
        row["cpu_us_per_req"] = round(m.cpu / row["requests"] * 1e6, 1)
    # CPU use of the generator while it was loaded: the steepest 2-second stretch of its CPU curve.
    rates = [(c2 - c1) / (t2 - t1) for (t1, c1), (t2, c2) in zip(m.samples, m.samples[8:]) if t2 > t1]
    row["busy_pct"] = round(max(rates) * 100, 1) if rates else None
    return row


def summarize(runs: list[dict]) -> dict:
    out: dict = {}
    for name in GENERATORS:
        ok = [r for r in runs if r["tool"] == name and "error" not in r]
        if not ok:
            continue
        out[name] = {
            "runs": len(ok),
            "rps": round(median([r["rps"] for r in ok]), 1),
            "p50_ms": round(median([r["p50_ms"] for r in ok]), 3),
            "p99_ms": round(median([r["p99_ms"] for r in ok]), 3),
            "cpu_us_per_req": round(median([r.get("cpu_us_per_req") for r in ok]), 1),
            "busy_pct": round(median([r.get("busy_pct") for r in ok]), 1),
            "failures": sum(r["failures"] for r in ok),
            "rps_all": [r["rps"] for r in ok],
        }
    for name, s in out.items():
        for ref in ("wrk", "locust-fast", "bare-aiohttp"):
            if ref in out:
                s[f"x_{ref}"] = round(s["rps"] / out[ref]["rps"], 3)
    return out


def print_table(summary: dict) -> None:
    head = ["generator", "req/s", "p50 ms", "p99 ms", "CPU us/req", "busy %", "x wrk", "x locust-fast", "x bare-aiohttp"]
    rows = [[LABELS[n], f"{s['rps']:,.0f}", f"{s['p50_ms']:.2f}", f"{s['p99_ms']:.2f}", f"{s['cpu_us_per_req']:.0f}",
             f"{s['busy_pct']:.0f}", f"{s.get('x_wrk', float('nan')):.3f}", f"{s.get('x_locust-fast', float('nan')):.2f}",
             f"{s.get('x_bare-aiohttp', float('nan')):.2f}"] for n, s in summary.items()]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for i, r in enumerate([head, *rows]):
        print("  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    ap = argparse.ArgumentParser(description="liminal-tui vs wrk, Locust and bare aiohttp (127.0.0.1 only)")
    ap.add_argument("--quick", action="store_true", help="1 round x 5 s instead of 3 rounds x 10 s")
    ap.add_argument("--rounds", type=int, help="rounds (each runs every generator once)")
    ap.add_argument("--seconds", type=int, help="seconds per run")
    ap.add_argument("--only", help="comma-separated generators: " + ",".join(GENERATORS))
    ap.add_argument("--out", type=Path, default=RESULTS / "requests.json")
    args = ap.parse_args()
    rounds = max(1, min(args.rounds or (1 if args.quick else 3), 20))
    seconds = max(2, min(args.seconds or (5 if args.quick else 10), 120))
    names = [n for n in (args.only.split(",") if args.only else GENERATORS) if n in GENERATORS]

    ensure_apt("nginx", "wrk")
    ensure_py("psutil")
    ensure_py("uvloop")
    if any(n.startswith("locust") for n in names):
        ensure_locust()
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 CPUs; nginx and the generator share one")
    load0 = os.getloadavg()[0]
    if load0 > 0.5:
        log(f"warning: load average {load0:.2f} before start; other processes skew the figures (see foreign_cpu_s)")

    runs: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="liminal-bench-"))
    started = time.time()
    with Nginx(cpu=SERVER_CPU) as nginx:
        log(f"nginx on {nginx.url} (CPU {SERVER_CPU}); generators on CPU {GEN_CPU}; {rounds} round(s) x {seconds}s")
        for rnd in range(rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]  # rotate: no generator always goes first
            for name in order:
                row = one_run(name, nginx.url, seconds, work, nginx)
                row["round"] = rnd + 1
                runs.append(row)
                if "error" in row:
                    log(f"round {rnd + 1} {name}: ERROR {row['error']}")
                else:
                    log(f"round {rnd + 1} {name:13s} {row['rps']:>9,.0f} req/s  p50 {row['p50_ms']:.2f} ms  "
                        f"p99 {row['p99_ms']:.2f} ms  {row.get('cpu_us_per_req', 0):.0f} us/req  "
                        f"busy {row.get('busy_pct') or 0:.0f}%  foreign {row['foreign_cpu_s']:.1f}s")
                time.sleep(1.0)
    summary = summarize(runs)
    print()
    print(f"median of {rounds} run(s) x {seconds}s, {USERS} connections/users, nginx on CPU {SERVER_CPU}, "
          f"generator on CPU {GEN_CPU}")
    print_table(summary)
    checks = []
    for tool, ref, ratio in TARGETS:
        if tool in summary and ref in summary:
            got = summary[tool]["rps"] / summary[ref]["rps"]
            ok = got >= ratio
            checks.append({"target": f"{tool} >= {ratio}x {ref} (req/s)", "observed": round(got, 3), "passed": ok})
            print(f"{'PASS' if ok else 'FAIL'}  {tool} >= {ratio}x {ref}: {got:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": "python bench/run.py" + (" --quick" if args.quick else ""),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "rounds": rounds, "seconds": seconds, "users": USERS,
        "provenance": provenance(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_before": round(load0, 2)},
        "summary": summary, "targets": checks, "runs": runs,
    }, indent=2))
    print(f"written: {args.out}")
    return 0 if all(c["passed"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
