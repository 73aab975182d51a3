"""Before and after: the same liminal-tui bench run from two checkouts, alternating, in one run.

    python bench/ab.py OLD_PYTHON NEW_PYTHON [--rounds 4] [--seconds 6] [--steady]

OLD_PYTHON and NEW_PYTHON are the interpreters of two environments, each with its own checkout of
liminal-tui installed (e.g. ``git worktree add ../base <commit>`` with its own venv). Each round runs the
old then the new one (then the new then the old: the order alternates), against bench/run.py's private
nginx (pinned to CPU 0), the generator pinned to CPU 1, 50 users, one checked GET, ``--workers 1``.
Prints requests/s and CPU per request of each run, the medians and the ratio new/old. By default each run
is the whole command (start-up included, as bench/run.py measures it); with ``--steady`` each run is one
engine worker in a process of its own, and CPU per request is read over its steady ticks only (no
start-up, no ramp, no stop), which is the per-request path alone. On a shared machine
the absolute figures move with the load; the ratio of runs alternated in one run is what to read.

Only 127.0.0.1 is contacted; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Nginx, get_profile, log, median, run_measured  # noqa: E402

USERS = 50


STEADY_CHILD = """
import asyncio, json, sys, time
from liminal_tui.profile.loader import parse_profile
from liminal_tui.engine.worker import Worker, WorkerSpec

async def main(path, url):
    profile = parse_profile(open(path).read())
    marks = []
    def on_report(report):
        if hasattr(report, "endpoints"):
            marks.append((time.perf_counter(), time.process_time(), sum(e.count for e in report.endpoints)))
    try:  # the worker-pool seam's API (issue 12), else the one before it
        from liminal_tui.engine.clock import RunClock
        worker = Worker(WorkerSpec(0, 1, profile, url, 0.5, 1.0), RunClock.now(), on_report)
    except ImportError:
        worker = Worker(WorkerSpec(0, 1, profile, url, time.perf_counter_ns(), 0.5, 1.0), on_report)
    await worker.run()
    steady = marks[2:-2]  # 0.5 s ticks: not the first second (connections opening) nor the last
    n = sum(m[2] for m in steady[1:])
    print(json.dumps({"rps": n / (steady[-1][0] - steady[0][0]),
                      "cpu_us": (steady[-1][1] - steady[0][1]) / n * 1e6}))

import uvloop
with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
    runner.run(main(sys.argv[1], sys.argv[2]))
"""


def steady(python: str, profile: Path, url: str, seconds: int) -> dict:
    # cwd: the profile's folder, so that each python imports its own checkout, not one found in the cwd
    m = run_measured([python, "-c", STEADY_CHILD, str(profile), url], cpu=1, timeout=seconds + 60, cwd=profile.parent)
    lines = m.stdout.strip().splitlines()
    if m.rc != 0 or not lines:
        raise SystemExit(f"{python}: exit {m.rc}\n{m.stderr[-2000:]}")
    return json.loads(lines[-1])


def one(python: str, profile: Path, seconds: int) -> dict:
    argv = [python, "-m", "liminal_tui", "--run", str(profile), "--json", "-q", "--no-report", "--workers", "1"]
    m = run_measured(argv, cpu=1, timeout=seconds + 60, cwd=profile.parent)
    d = json.loads(m.stdout)
    e = next(x for x in d["endpoints"] if x["kind"] == "http")
    return {"rps": e["rps"], "cpu_us": m.cpu / max(e["requests"], 1) * 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--steady", action="store_true", help="one engine worker, CPU over its steady ticks only")
    args = ap.parse_args()
    args.old, args.new = (str(Path(p).absolute()) for p in (args.old, args.new))  # runs start in a temp folder
    work = Path(tempfile.mkdtemp(prefix="liminal-ab-"))
    rows: dict[str, list[dict]] = {"old": [], "new": []}
    with Nginx(cpu=0) as nginx:
        profile = work / "ab.toml"
        profile.write_text(get_profile("ab", nginx.url, args.seconds,
                                       f"model = \"closed\"\nusers = {USERS}\nspawn_rate = 100000\nthink_time = 0"))
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                python = getattr(args, which)
                res = (steady(python, profile, nginx.url, args.seconds) if args.steady
                       else one(python, profile, args.seconds))
                rows[which].append(res)
                log(f"round {r + 1} {which}: {res['rps']:,.0f} req/s, {res['cpu_us']:.1f} us CPU a request")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    out = {}
    for which in ("old", "new"):
        out[which] = {k: median([x[k] for x in rows[which]]) for k in ("rps", "cpu_us")}
        print(f"{which}: median {out[which]['rps']:,.0f} req/s, {out[which]['cpu_us']:.1f} us CPU a request")
    print(f"new/old: req/s x{out['new']['rps'] / out['old']['rps']:.3f}, "
          f"CPU a request x{out['new']['cpu_us'] / out['old']['cpu_us']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
