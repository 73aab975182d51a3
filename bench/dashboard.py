"""What the app costs during a run: bytes/s written to the terminal, and requests/s against a headless run.

    python bench/dashboard.py            # 20-s output window + 7 rounds of app vs headless (~5 min)
    python bench/dashboard.py --quick    # 10-s output window + 2 rounds (~1.5 min)

1. Terminal output. In a temp dir with ``profiles/bench.toml`` (builtin target, 20 users, 30 s, the smoke
   profile's scenarios: 4 HTTP endpoints and a WebSocket with heartbeats and a broadcast wait), runs the
   app (``liminal-tui``, no args) in tmux at 120x40 on a private tmux server (``-L``), pipes the pane's
   output to a file (``tmux pipe-pane -o 'cat >> FILE'``), moves down the profile list until the preview
   shows profiles/bench.toml (bounded), presses r, waits for "elapsed" on the dashboard, and measures the
   file's growth over 20 s -> KB/s (also the busiest second). Target: < 30 KB/s.
2. Requests/s, app vs headless. A profile that saturates the generator (builtin target, 50 users, no
   think time, one GET /health) run headless (``liminal-tui --run P --json -q``, 1 worker, as the app,
   writing its report as the app does, so the dashboard is the only difference) and from the app (same
   tmux driving; the app writes reports/<run>/summary.json, read back), 10-s runs, alternating which
   goes first, 7 rounds. Ratio app/headless of the endpoint's rps over the whole run, median over
   rounds. Target: >= 0.95. Also printed: the same ratio over the steady seconds only (the median
   second of each run's history, first and last second left out), and the app's main-process CPU
   from start to summary (drawing, plus starting the run and writing the report).

Only 127.0.0.1 is contacted (the builtin target); every wait is bounded; the tmux server is private and
killed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, liminal_cmd, log, median, provenance  # noqa: E402

WIDTH, HEIGHT = 120, 40
SMOKE = Path(__file__).resolve().parent.parent / "profiles" / "smoke.toml"

SAT_PROFILE = '''\
name = "{name}"
target = "builtin"
duration = "{seconds}s"

[load]
model = "closed"
users = 50
spawn_rate = 100000
think_time = 0

[[scenarios]]
name = "health"
[[scenarios.steps]]
type = "http"
method = "GET"
path = "/health"
name = "GET /health"
check = {{ status = 200 }}
'''


class Tmux:
    """The app in a private tmux server (its own socket), so no other tmux session is touched."""

    def __init__(self, cwd: Path, log_file: Path | None = None) -> None:
        self.sock = f"liminal-bench-{uuid.uuid4().hex[:8]}"
        self.name = "bench"
        cmd = " ".join(liminal_cmd())
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(cwd), cmd)
        if log_file is not None:
            self._tmux("pipe-pane", "-o", "-t", self.name, f"cat >> {log_file}")

    def _tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=10)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise RuntimeError(f"{text!r} never appeared within {timeout:g}s; screen:\n{self.screen()}")

    def app_process(self):
        """The app's own (main) process: the pane's process, or its first descendant that is liminal-tui."""
        import psutil

        pid = int(self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").stdout.strip() or 0)
        try:
            p = psutil.Process(pid)
            for c in [p, *p.children(recursive=True)]:
                cmd = " ".join(c.cmdline())
                if "liminal" in cmd and "spawn_main" not in cmd and "demo" not in cmd:
                    return c
        except (psutil.Error, ValueError):
            pass
        return None

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", self.name).returncode == 0

    def pick_and_run(self, rel: str) -> None:
        """Down until the preview shows ``rel`` (bounded), then r, then wait for the dashboard."""
        self.wait_for("Profiles", 30)
        for _ in range(20):
            if rel in self.screen():
                break
            self.keys("Down")
            time.sleep(0.25)
        self.wait_for(rel, 5)
        self.keys("r")
        self.wait_for("elapsed", 30)

    def quit(self) -> None:
        self.keys("q")
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._tmux("kill-server")


def terminal_output(work: Path, window: float) -> dict:
    (work / "profiles").mkdir(parents=True)
    text = SMOKE.read_text()
    text = text.replace('name = "smoke"', 'name = "bench"').replace('duration = "1m"', 'duration = "30s"')
    text = text.replace("users = 10", "users = 20").replace("spawn_rate = 1\n", "spawn_rate = 20\n")
    (work / "profiles" / "bench.toml").write_text(text)
    out = work / "pane.out"
    out.touch()
    term = Tmux(work, out)
    term_name = term._tmux("show-options", "-gv", "default-terminal").stdout.strip()
    try:
        term.pick_and_run("profiles/bench.toml")
        t0 = time.monotonic()
        size0 = out.stat().st_size
        per_second = []
        last = size0
        for i in range(int(window)):
            time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
            now = out.stat().st_size
            per_second.append(now - last)
            last = now
        elapsed = time.monotonic() - t0
        grown = out.stat().st_size - size0
        screen = term.screen()
        term.wait_for("Report", 60)  # the run ends by itself (30 s)
    finally:
        term.quit()
    kbps = grown / elapsed / 1024
    return {"bytes": grown, "seconds": round(elapsed, 2), "kb_per_s": round(kbps, 2),
            "max_second_kb": round(max(per_second) / 1024, 2), "min_second_kb": round(min(per_second) / 1024, 2),
            "per_second_bytes": per_second, "term": term_name, "screen_at_end_of_window": screen}


def _figures(d: dict) -> dict:
    e = next(e for e in d["endpoints"] if e["kind"] == "http")
    w = d["generator"]["workers"][0] if d["generator"]["workers"] else {}
    return {"rps": e["rps"], "requests": e["requests"], "failures": e["failures"], "actual_s": d["duration"]["actual_s"],
            "worker_max_cpu": w.get("max_cpu_percent"), "saturated_s": d["generator"]["saturated_seconds"],
            "loadavg": round(os.getloadavg()[0], 2)}


def steady_rps(report_dir: Path) -> float | None:
    """The median second of the run's history (Aggregated HTTP row), first and last second left out."""
    import csv

    path = report_dir / "results_stats_history.csv"
    if not path.exists():
        return None
    with path.open(newline="") as fh:
        rates = [float(r["Requests/s"]) for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
    return median(rates[1:-1]) if len(rates) > 2 else None


def run_headless(work: Path, profile: Path, seconds: float) -> dict:
    reports = work / "headless-reports"
    argv = [*liminal_cmd(), "--run", str(profile), "--json", "-q", "--report-dir", str(reports)]
    p = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=seconds + 90)
    d = json.loads(p.stdout)
    return {**_figures(d), "steady_rps": steady_rps(Path(d["report_dir"])) if d.get("report_dir") else None}


def run_app(work: Path, rel: str, seconds: float) -> dict:
    reports = work / "reports"
    before = set(reports.iterdir()) if reports.exists() else set()
    term = Tmux(work)
    cpu_pct = None
    try:
        term.pick_and_run(rel)
        app = term.app_process()
        c0, t0 = (sum(app.cpu_times()[:2]), time.monotonic()) if app else (0.0, 0.0)
        term.wait_for("Report", seconds + 60)
        if app:
            cpu_pct = round((sum(app.cpu_times()[:2]) - c0) / (time.monotonic() - t0) * 100, 1)
        deadline = time.monotonic() + 10
        new: set = set()
        while time.monotonic() < deadline and not new:
            new = {p for p in reports.iterdir() if (p / "summary.json").exists()} - before
            time.sleep(0.1)
    finally:
        term.quit()
    report = next(iter(new))
    return {**_figures(json.loads(report.joinpath("summary.json").read_text())), "app_main_cpu_pct": cpu_pct,
            "steady_rps": steady_rps(report)}


def main() -> int:
    ap = argparse.ArgumentParser(description="the app's terminal output and its RPS against headless")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=int, help="duration of each RPS run")
    ap.add_argument("--window", type=int, help="seconds of terminal output measured")
    ap.add_argument("--out", type=Path, default=RESULTS / "dashboard.json")
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed (apt-get install -y tmux)")
    rounds = max(1, min(args.rounds or (2 if args.quick else 7), 15))
    seconds = max(5, min(args.seconds or 10, 120))
    window = max(5, min(args.window or (10 if args.quick else 20), 25))
    load0 = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="liminal-bench-dash-"))
    started = time.time()

    log(f"terminal output: app at {WIDTH}x{HEIGHT} in tmux, 20 users, {window} s window")
    out = terminal_output(work / "output", window)
    log(f"{out['bytes']:,} bytes in {out['seconds']} s = {out['kb_per_s']:.2f} KB/s (busiest second {out['max_second_kb']:.1f} KB)")

    sat = work / "rps"
    (sat / "profiles").mkdir(parents=True)
    prof = sat / "profiles" / "sat.toml"
    prof.write_text(SAT_PROFILE.format(name="sat", seconds=seconds))
    pairs = []
    for rnd in range(rounds):
        first_app = rnd % 2 == 1  # alternate which mode goes first
        res: dict = {}
        for mode in (("app", "headless") if first_app else ("headless", "app")):
            res[mode] = run_app(sat, "profiles/sat.toml", seconds) if mode == "app" else run_headless(sat, prof, seconds)
            time.sleep(1.0)
        res["ratio"] = res["app"]["rps"] / res["headless"]["rps"]
        h_steady, a_steady = res["headless"]["steady_rps"], res["app"]["steady_rps"]
        res["steady_ratio"] = a_steady / h_steady if h_steady and a_steady else None
        pairs.append(res)
        log(f"round {rnd + 1}: headless {res['headless']['rps']:,.0f} req/s, app {res['app']['rps']:,.0f} req/s, "
            f"ratio {res['ratio']:.3f} (steady seconds {res['steady_ratio'] or float('nan'):.3f})")
    ratio = median([p["ratio"] for p in pairs])
    steady = [p["steady_ratio"] for p in pairs if p["steady_ratio"]]
    steady_ratio = median(steady) if steady else None

    kb_ok = out["kb_per_s"] < 30
    rps_ok = ratio >= 0.95
    print()
    print(f"terminal output at {WIDTH}x{HEIGHT} (TERM={out['term']}), 20 users: "
          f"{out['kb_per_s']:.2f} KB/s over {out['seconds']:.0f} s (busiest second {out['max_second_kb']:.1f} KB, "
          f"quietest {out['min_second_kb']:.1f} KB)")
    print("round  headless req/s  app req/s  app/headless  steady seconds  worker CPU max % (headless/app)  app main CPU %  load avg")
    for i, p in enumerate(pairs, 1):
        h, a = p["headless"], p["app"]
        print(f"{i:5d}  {h['rps']:14,.0f}  {a['rps']:9,.0f}  {p['ratio']:12.3f}  {p['steady_ratio'] or float('nan'):14.3f}  "
              f"{h['worker_max_cpu']:>14.0f} / {a['worker_max_cpu']:<14.0f}  {a['app_main_cpu_pct'] or float('nan'):13.1f}  "
              f"{a['loadavg']:8.2f}")
    if steady_ratio is not None:
        print(f"median app/headless over the steady seconds: {steady_ratio:.3f}")
    app_cpu = median([p["app"]["app_main_cpu_pct"] for p in pairs])
    print(f"median app main-process CPU during a run: {app_cpu:.1f} % of a core")
    print(f"{'PASS' if kb_ok else 'FAIL'}  terminal output < 30 KB/s: {out['kb_per_s']:.2f} KB/s")
    print(f"{'PASS' if rps_ok else 'FAIL'}  app/headless req/s >= 0.95: median {ratio:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": " ".join(["python", "bench/dashboard.py", *sys.argv[1:]]), "provenance": provenance(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)), "loadavg_before": load0,
        "terminal": {"width": WIDTH, "height": HEIGHT, **out}, "rps_seconds": seconds, "rounds": pairs,
        "median_ratio": ratio, "median_steady_ratio": steady_ratio, "app_main_cpu_pct": app_cpu, "passed": {"output": kb_ok, "rps": rps_ok},
    }, indent=1))
    print(f"written: {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if kb_ok and rps_ok else 1


if __name__ == "__main__":
    sys.exit(main())
