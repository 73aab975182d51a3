"""WebSocket message throughput per core: a ws_send/ws_wait echo scenario against a bare websockets loop.

    python bench/ws_throughput.py            # 50 connections, 3 rounds x 10 s each side (~1.5 min)
    python bench/ws_throughput.py --quick    # 1 round x 5 s (~20 s)

Starts the echo server of bench/websockets_10k.py (aiohttp, uvloop, its own process, 127.0.0.1), then in
alternation:

* liminal-tui ``--run --workers 1``: 50 users, each ``ws_connect`` once, then loops ``ws_send`` (a text
  naming the user and iteration) and ``ws_wait`` for the echo that contains it;
* the bare loop (this file, ``--bare``): 50 tasks on uvloop, each sending the same text and awaiting
  ``recv()`` on its own websockets connection, no framework.

Each side's figure is echoes per CPU-second of the process doing the work (liminal: the worker process,
user + system, from /proc while it runs, less what it had used when its users' connections reached the
server, i.e. its start-up; the bare loop: ``getrusage`` of its own process around the loop), so the machine's
other load moves it less than messages/s would. Ratio liminal / bare, median of the rounds; target >= 0.7.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, free_port, liminal_cmd, log, median, provenance, wait_port  # noqa: E402

USERS = 50
PROFILE = '''\
name = "bench-ws-echo"
target = "http://127.0.0.1:{port}"
duration = "{seconds}s"

[load]
model = "closed"
users = {users}
spawn_rate = 10000
think_time = 0

[[scenarios]]
name = "echo"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws"
name = "WS /ws"
[[scenarios.steps]]
type = "ws_send"
text = "echo ${{user}} ${{iteration}}"
[[scenarios.steps]]
type = "ws_wait"
name = "echo"
contains = "echo ${{user}} ${{iteration}}"
timeout = "5s"
'''


async def bare(url: str, users: int, seconds: float) -> dict:
    from websockets.asyncio.client import connect

    conns = [await connect(url, ping_interval=None, max_queue=None, compression=None, proxy=None) for _ in range(users)]
    count = [0]
    end = time.monotonic() + seconds

    async def loop(i: int, ws) -> None:  # type: ignore[no-untyped-def]
        n = 0
        while time.monotonic() < end:
            text = f"echo {i} {n}"
            await ws.send(text)
            while await ws.recv() != text:
                pass
            n += 1
            count[0] += 1

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    await asyncio.gather(*(loop(i, ws) for i, ws in enumerate(conns)))
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(ws.close() for ws in conns))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"echoes": count[0], "wall": wall, "cpu": cpu}


def run_bare(port: int, seconds: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "--bare", str(port), "--seconds", str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise SystemExit(f"bare loop failed: {out.stderr[-1000:]}")
    return json.loads(out.stdout)


def accepted(stats_port: int) -> int:
    import urllib.request

    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{stats_port}/stats", timeout=2) as r:
            return sum(h["accepted"] for h in json.loads(r.read()).values())
    except (OSError, ValueError):
        return -1


def run_liminal(work: Path, port: int, stats_port: int, seconds: float) -> dict:
    import psutil

    profile = work / "echo.toml"
    profile.write_text(PROFILE.format(port=port, seconds=f"{seconds:g}", users=USERS))
    proc = subprocess.Popen([*liminal_cmd(), "--run", str(profile), "--json", "--no-report", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=work, text=True, start_new_session=True)
    cpu = 0.0
    cpu_at_start: float | None = None  # the worker's CPU when its users connect: start-up is not the load
    before = accepted(stats_port)
    deadline = time.monotonic() + seconds + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            for p in psutil.Process(proc.pid).children(recursive=True):
                if "spawn_main" in " ".join(p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline()):
                    t = p.cpu_times()
                    cpu = max(cpu, t.user + t.system)  # the worker's CPU so far (it only grows)
        except psutil.Error:
            pass
        if cpu_at_start is None and accepted(stats_port) > before:
            cpu_at_start = cpu
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    summary = json.loads(proc.communicate(timeout=30)[0])
    eps = {e["kind"]: e for e in summary["endpoints"]}
    msg = eps.get("ws_message", {})
    return {"echoes": msg.get("requests", 0) - msg.get("failures", 0), "failures": msg.get("failures", 0),
            "wall": seconds, "cpu": cpu - (cpu_at_start or 0.0), "cpu_startup": cpu_at_start, "p50_ms": msg.get("latency_ms", {}).get("percentiles", {}).get("p50")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=RESULTS / "ws_throughput.json")
    args = ap.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    if args.bare:
        import uvloop

        print(json.dumps(uvloop.run(bare(f"ws://127.0.0.1:{args.bare}/ws", USERS, seconds))))
        return 0
    rounds = args.rounds or (1 if args.quick else 3)
    from ws_common import ECHO_SERVER

    work = Path(tempfile.mkdtemp(prefix="liminal-bench-wsecho-"))
    port = free_port()
    server = subprocess.Popen([sys.executable, ECHO_SERVER, str(rounds * (seconds + 30) * 2 + 60), str(port),
                               "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    rows = []
    try:
        line = server.stdout.readline()
        if not line.startswith("listening"):
            raise SystemExit("echo server did not start")
        stats_port = int(line.split()[3])
        wait_port(port)
        for r in range(rounds):
            load = os.getloadavg()[0]
            lim = run_liminal(work, port, stats_port, seconds)
            bar = run_bare(port, seconds)
            row = {"round": r + 1, "load1": load, "liminal": lim, "bare": bar,
                   "liminal_per_cpu_s": lim["echoes"] / max(lim["cpu"], 1e-9),
                   "bare_per_cpu_s": bar["echoes"] / max(bar["cpu"], 1e-9)}
            row["ratio"] = row["liminal_per_cpu_s"] / row["bare_per_cpu_s"]
            rows.append(row)
            log(f"round {r + 1}: liminal {lim['echoes'] / seconds:,.0f} echoes/s, {row['liminal_per_cpu_s']:,.0f} per CPU-s "
                f"(failures {lim['failures']}); bare {bar['echoes'] / bar['wall']:,.0f}/s, {row['bare_per_cpu_s']:,.0f} per CPU-s; "
                f"ratio {row['ratio']:.2f}; load {load:.2f}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    ratio = median([r["ratio"] for r in rows])
    passed = ratio >= 0.7 and all(r["liminal"]["failures"] == 0 for r in rows)
    print(f"echoes per CPU-second: liminal {median([r['liminal_per_cpu_s'] for r in rows]):,.0f}, "
          f"bare websockets loop {median([r['bare_per_cpu_s'] for r in rows]):,.0f}")
    each = ", ".join(f"{r['ratio']:.2f}" for r in rows)
    loads = [r["load1"] for r in rows]
    print(f"rounds, liminal / bare: {each}; load average {min(loads):.1f}-{max(loads):.1f} (a busy machine moves them)")
    print(f"{'PASS' if passed else 'FAIL'}  liminal / bare = {ratio:.2f} (median of {rounds}; target >= 0.7, no failed waits)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"provenance": provenance(), "users": USERS, "seconds": seconds, "rounds": rows,
                                    "ratio": ratio, "passed": passed}, indent=1))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
