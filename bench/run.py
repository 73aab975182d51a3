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

The same nginx also serves https:// (self-signed certificate from the openssl CLI) and HTTP/2 over TLS;
more rows (``--only`` picks any of them; ``--set plain|https|chain|h2|all`` picks groups):

    https: wrk-https, locust-fast-https, bare-aiohttp-https, liminal-https (fast client over TLS,
           verifying against the bench's certificate as ca_bundle)
    chain: POST /items (JSON body, status check, extract the id) then GET /items/<id> (status check), one
           iteration = 2 requests: locust-fast-chain[-https] (FastHttpUser with catch_response) and
           liminal-chain[-https]
    h2:    h2load -c50 -m1 (apt nghttp2-client), liminal-h2 (http2 = true: the h2 client, 50 users' streams on
           one connection), liminal-h2-httpx (client = "httpx") and liminal-h2-chain (the chain below) against
           nginx http2, beside liminal-https and liminal-chain-https (the HTTP/1.1 fast client over TLS, 50
           connections) in the same run
    liminal-notimings: the plain row with [http] timings = false (the cost of connection timings)

Per run: requests/s, p50 and p99 as each tool reports them, and CPU per request of the generator's
whole process tree (user+sys seconds from wait4 and /proc, startup included, divided by requests).
Prints one table of medians with ratios to the wrk, Locust FastHttpUser and bare aiohttp of the row's
own group (https rows to the https ones, chains to Locust's chain, h2 to h2load), writes
bench/results/requests.json, and checks the targets (exit code 1 if one fails):

    liminal >= 0.5 x wrk      liminal >= 1.5 x Locust FastHttpUser      liminal >= 0.85 x bare aiohttp  (req/s)
    liminal-chain-https >= 3 x locust-fast-chain-https      liminal-https >= 0.6 x liminal

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
    insecure = True  # FastHttpUser: the bench's self-signed certificate

    @task
    def get(self):
        self.client.get("/")  # Locust marks any status >= 400 as a failure
'''

LOCUST_CHAIN = '''\
from locust import FastHttpUser, constant, task


class Chain(FastHttpUser):
    wait_time = constant(0)
    insecure = True

    @task
    def chain(self):
        with self.client.post("/items", json={"name": "x"}, catch_response=True) as resp:
            if resp.status_code != 201:
                resp.failure(f"status {resp.status_code}")
                return
            try:
                item = resp.json()["id"]
            except (ValueError, KeyError, TypeError):
                resp.failure("no id")
                return
            resp.success()
        with self.client.get(f"/items/{item}", name="/items/[id]", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
            else:
                resp.success()
'''

CHAIN_STEPS = """
[[scenarios]]
name = "chain"
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/items"
json = { name = "x" }
check = { status = 201 }
extract = { id = "json:id" }
[[scenarios.steps]]
type = "http"
method = "GET"
path = "/items/${id}"
name = "GET /items/{id}"
check = { status = 200 }
"""



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


def _gen_locust(cls: str, chain: bool = False) -> Callable:
    def gen(url: str, seconds: int, work: Path) -> tuple[list[str], Callable[[Measured], dict]]:
        locustfile = work / f"locust_{cls}{'_chain' if chain else ''}.py"
        locustfile.write_text(LOCUST_CHAIN if chain else LOCUSTFILE.format(cls=cls))
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


def gen_h2load(url: str, seconds: int, work: Path) -> tuple[list[str], Callable[[Measured], dict]]:
    def parse(m: Measured) -> dict:
        out = m.stdout
        rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
        done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
        mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
        # h2load prints min/max/mean/sd, no percentiles: the mean stands in for p50, p99 unknown
        return {"requests": int(done.group(3)), "failures": int(done.group(5)) + int(done.group(6)), "rps": rps,
                "p50_ms": _ms(mean.group(1)) if mean else float("nan"), "p99_ms": float("nan")}

    return ["h2load", "-c", str(USERS), "-m", "1", "-t", "1", "-D", str(seconds), url + "/"], parse


def _gen_liminal(http: str = "", steps: str = "", timings: bool = True) -> Callable:
    def gen(url: str, seconds: int, work: Path) -> tuple[list[str], Callable[[Measured], dict]]:
        profile = work / f"liminal_{time.monotonic_ns()}.toml"
        text = get_profile("bench-requests", url, seconds,
                           f"model = \"closed\"\nusers = {USERS}\nspawn_rate = 100000\nthink_time = 0")
        if steps:
            text = text[:text.index("[[scenarios]]")] + steps
        settings = http + ("" if timings else "\ntimings = false")
        if settings:
            text = text.replace("\n[load]", f"\n[http]\n{settings.strip()}\n\n[load]", 1)
        profile.write_text(text)

        def parse(m: Measured) -> dict:
            d = json.loads(m.stdout)
            e = d["aggregates"].get("http") or next(x for x in d["endpoints"] if x["kind"] == "http")
            p = e["latency_ms"]["percentiles"]
            return {"requests": e["requests"], "failures": e["failures"], "rps": e["rps"], "p50_ms": p["p50"],
                    "p99_ms": p["p99"], "liminal_saturated_s": d["generator"]["saturated_seconds"],
                    "liminal_actual_s": d["duration"]["actual_s"]}

        return [*liminal_cmd(), "--run", str(profile), "--json", "-q", "--no-report", "--workers", "1"], parse
    return gen


gen_liminal = _gen_liminal()


GENERATORS: dict[str, Callable] = {
    "wrk": gen_wrk,
    "locust-fast": _gen_locust("FastHttpUser"),
    "locust-http": _gen_locust("HttpUser"),
    "bare-aiohttp": gen_bare,
    "liminal": gen_liminal,
    "liminal-notimings": _gen_liminal(timings=False),
    "wrk-https": gen_wrk,
    "locust-fast-https": _gen_locust("FastHttpUser"),
    "bare-aiohttp-https": gen_bare,
    "liminal-https": _gen_liminal(http='ca_bundle = "{cert}"'),
    "locust-fast-chain": _gen_locust("FastHttpUser", chain=True),
    "liminal-chain": _gen_liminal(steps=CHAIN_STEPS),
    "locust-fast-chain-https": _gen_locust("FastHttpUser", chain=True),
    "liminal-chain-https": _gen_liminal(http='ca_bundle = "{cert}"', steps=CHAIN_STEPS),
    "h2load": gen_h2load,
    "liminal-h2": _gen_liminal(http='http2 = true\nca_bundle = "{cert}"'),
    "liminal-h2-httpx": _gen_liminal(http='http2 = true\nclient = "httpx"\nca_bundle = "{cert}"'),
    "liminal-h2-chain": _gen_liminal(http='http2 = true\nca_bundle = "{cert}"', steps=CHAIN_STEPS),
}
LABELS = {"wrk": "wrk -t1 -c50", "locust-fast": "Locust FastHttpUser", "locust-http": "Locust HttpUser",
          "bare-aiohttp": "bare aiohttp loop", "liminal": "liminal-tui --workers 1",
          "liminal-notimings": "liminal-tui, timings = false",
          "wrk-https": "https: wrk -t1 -c50", "locust-fast-https": "https: Locust FastHttpUser",
          "bare-aiohttp-https": "https: bare aiohttp loop", "liminal-https": "https: liminal-tui",
          "locust-fast-chain": "chain: Locust FastHttpUser", "liminal-chain": "chain: liminal-tui",
          "locust-fast-chain-https": "https chain: Locust FastHttpUser", "liminal-chain-https": "https chain: liminal-tui",
          "h2load": "h2: h2load -c50 -m1", "liminal-h2": "h2: liminal-tui http2 = true",
          "liminal-h2-httpx": "h2: liminal-tui, client = httpx", "liminal-h2-chain": "h2 chain: liminal-tui"}
SETS = {
    "plain": ["wrk", "locust-fast", "locust-http", "bare-aiohttp", "liminal", "liminal-notimings"],
    "https": ["wrk-https", "locust-fast-https", "bare-aiohttp-https", "liminal-https"],
    "chain": ["locust-fast-chain", "liminal-chain", "locust-fast-chain-https", "liminal-chain-https"],
    "h2": ["h2load", "liminal-h2", "liminal-h2-httpx", "liminal-h2-chain", "liminal-https", "liminal-chain-https"],
}
SETS["all"] = list(dict.fromkeys(n for names in SETS.values() for n in names))
GROUP_REFS = {
    "https": {"wrk": "wrk-https", "locust-fast": "locust-fast-https", "bare-aiohttp": "bare-aiohttp-https"},
    "chain": {"locust-fast": "locust-fast-chain"},
    "chain-https": {"locust-fast": "locust-fast-chain-https"},
    "h2": {"wrk": "h2load"},
}
"""The references a row's ratios are taken against, by the row's group (plain rows: wrk, locust-fast, bare-aiohttp)."""
TARGETS = [("liminal", "wrk", 0.5), ("liminal", "locust-fast", 1.5), ("liminal", "bare-aiohttp", 0.85),
           ("liminal-chain-https", "locust-fast-chain-https", 3.0), ("liminal-https", "liminal", 0.6)]


def group_of(name: str) -> str:
    if name == "h2load" or name.startswith("liminal-h2"):
        return "h2"
    if name.endswith("chain-https"):
        return "chain-https"
    if name.endswith("chain"):
        return "chain"
    if name.endswith("-https"):
        return "https"
    return "plain"


def url_for(name: str, nginx: Nginx) -> str:
    group = group_of(name)
    return nginx.h2_url if group == "h2" else nginx.https_url if group.endswith("https") else nginx.url


def one_run(name: str, url: str, seconds: int, work: Path, nginx: Nginx) -> dict:
    argv, parse = GENERATORS[name](url, seconds, work)
    argv = [a.replace("{cert}", str(nginx.cert)) for a in argv]
    for path in work.glob("liminal_*.toml"):  # the profile's ca_bundle: the bench's certificate
        text = path.read_text()
        if "{cert}" in text:
            path.write_text(text.replace("{cert}", str(nginx.cert)))
    m = run_measured(argv, GEN_CPU, timeout=seconds + 60, cwd=work, server_pids=nginx.pids())
    row: dict = {"tool": name, "rc": m.rc, "wall_s": round(m.wall, 3), "cpu_s": round(m.cpu, 3),
                 "server_cpu_s": round(m.server_cpu, 3), "foreign_cpu_s": round(m.foreign_cpu, 3),
                 "steal_s": round(m.steal, 3), "cpu_by_process_s": m.per_process}
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
        refs = GROUP_REFS.get(group_of(name), {})
        for ref in ("wrk", "locust-fast", "bare-aiohttp"):
            source = refs.get(ref, ref if group_of(name) == "plain" else None)
            if source in out:
                s[f"x_{ref}"] = round(s["rps"] / out[source]["rps"], 3)
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
    ap.add_argument("--set", default="all", choices=sorted(SETS), help="a group of rows (default all)")
    ap.add_argument("--out", type=Path, default=RESULTS / "requests.json")
    args = ap.parse_args()
    rounds = max(1, min(args.rounds or (1 if args.quick else 3), 20))
    seconds = max(2, min(args.seconds or (5 if args.quick else 10), 120))
    names = [n for n in (args.only.split(",") if args.only else SETS[args.set]) if n in GENERATORS]

    ensure_apt("nginx", "wrk")
    if "h2load" in names:
        ensure_apt("nghttp2-client", binaries={"nghttp2-client": "h2load"})
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
                row = one_run(name, url_for(name, nginx), seconds, work, nginx)
                row["round"] = rnd + 1
                runs.append(row)
                if "error" in row:
                    log(f"round {rnd + 1} {name}: ERROR {row['error']}")
                else:
                    log(f"round {rnd + 1} {name:13s} {row['rps']:>9,.0f} req/s  p50 {row['p50_ms']:.2f} ms  "
                        f"p99 {row['p99_ms']:.2f} ms  {row.get('cpu_us_per_req', 0):.0f} us/req  "
                        f"busy {row.get('busy_pct') or 0:.0f}%  foreign {row['foreign_cpu_s']:.1f}s  steal {row['steal_s']:.1f}s")
                time.sleep(1.0)
    summary = summarize(runs)
    print()
    print(f"median of {rounds} run(s) x {seconds}s, {USERS} connections/users, nginx on CPU {SERVER_CPU}, "
          f"generator on CPU {GEN_CPU}; ratios against the references of each row's group")
    print_table(summary)
    if "liminal" in summary and "liminal-notimings" in summary:
        cost = summary["liminal"]["cpu_us_per_req"] - summary["liminal-notimings"]["cpu_us_per_req"]
        summary["timings_cost_us_per_req"] = round(cost, 1)
        print(f"connection timings: {cost:+.1f} us of CPU a request (liminal - liminal-notimings; noise is ~1 us)")
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
