"""Render a sample run report and screenshot it with headless Chromium (a manual check, not a test).

    python bench/screenshot_report.py [--ticks 300] [--out /tmp/report-shot] [--html existing/report.html]

Builds a sample run through the real pipeline (Recorder -> IntervalReport -> Aggregator -> ReportWriter),
prints how long ``write`` took, then saves ``report.png`` beside the report.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.judge import judge
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.metrics.snapshot import IntervalReport, WorkerHealth
from liminal_tui.profile.loader import parse_profile
from liminal_tui.report import ReportWriter

CHROMIUM = "/usr/bin/chromium"
MS = 1_000_000

PROFILE = """
name = "sample"
description = "Sample report: memories API under a ramp, with live updates over WebSocket"
target = "http://localhost:8000"
duration = "5m"
[http.headers]
Authorization = "Bearer not-in-the-report"
[load]
users = 100
spawn_rate = 10
think_time = { min = "0.5s", max = "1.5s" }
[thresholds]
http = ["p99 < 500ms", "error_rate < 1%"]
"http:GET /api/memories/{id}" = ["p95 < 300ms"]
ws_ping = ["p99 < 50ms"]
[[scenarios]]
name = "memories"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws"
heartbeat = "2s"
[[scenarios.steps]]
type = "http"
path = "/api/memories/1"
name = "GET /api/memories/{id}"
[[scenarios.steps]]
type = "ws_wait"
name = "broadcast memory.updated"
"""


def render_screenshot(html_path: Path, png_path: Path, width: int = 1280, height: int = 2400) -> Path:
    """Screenshot ``html_path`` with headless Chromium (offline: no network features) into ``png_path``."""
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile_dir:
        cmd = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile_dir}", f"--screenshot={png_path}", f"--window-size={width},{height}",
            "--hide-scrollbars", html_path.as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not png_path.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {png_path}")
    return png_path


def sample_report(out_dir: Path, ticks: int) -> Path:
    profile = parse_profile(PROFILE)
    writer = ReportWriter(out_dir, profile, target_url=profile.target, started_at=time.time() - ticks,
                          tool_version="0.1.0", settings={"workers": 2})
    writer.check_writable()
    agg = Aggregator(profile.name, profile.target, "closed", duration=float(ticks))
    rng = random.Random(7)
    endpoints = [("GET", "GET /api/memories/{id}", 25.0), ("POST", "POST /api/memories", 45.0),
                 ("PATCH", "PATCH /api/memories/{id}", 60.0), ("GET", "GET /api/memories", 35.0)]
    recs = [Recorder(), Recorder()]
    snap = None
    for n in range(1, ticks + 1):
        users = min(100, n * 10 // 3)
        slow = 1.0 + 3.0 * math.exp(-((n - ticks * 0.6) / (ticks * 0.05)) ** 2)
        for worker, rec in enumerate(recs):
            for method, name, base in endpoints:
                ep = rec.endpoint("http", name, method)
                for _ in range(users // 4):
                    ep.success(int(rng.lognormvariate(math.log(base * slow), 0.4) * MS), 700, 200)
                if rng.random() < 0.05 * slow:
                    ep.failure(int(base * 3 * MS), "HTTP 503", "Service Unavailable", status=503)
            if rng.random() < 0.01:
                rec.endpoint("http", "GET /api/memories", "GET").failure(5000 * MS, "timeout", "read timed out after 5s")
            for _ in range(users // 10):
                rec.endpoint("ws_ping", "WS /ws").success(int(rng.lognormvariate(math.log(3), 0.5) * MS))
                rec.endpoint("ws_message", "broadcast memory.updated").success(
                    int(rng.lognormvariate(math.log(40 * slow), 0.3) * MS))
            if n <= 30:
                rec.endpoint("ws_connect", "WS /ws").success(int(rng.uniform(2, 9) * MS))
            agg.add(IntervalReport(
                worker, n, float(n), rec.drain(), users // 2, 50.0, users, 0, users // 2, min(n, 30) // 2,
                1 if n <= 30 else 0, 0, 0, users // 2, users // 10,
                WorkerHealth(worker, 40 + 55 * (slow - 1) / 3 + worker * 3, 2.0 + 60 * (slow - 1) / 3, 1.5, 90.0),
            ))
        final = n == ticks
        snap = agg.snapshot("finished" if final else "steady", float(n), final=final,
                            stop_reason="" if final else "")
        writer.on_snapshot(snap)
    assert snap is not None
    started = time.perf_counter()
    out = writer.write(snap, judge(profile.thresholds.parsed(), snap), notes=["Sample data, not a real run."])
    print(f"write() took {time.perf_counter() - started:.3f}s for {ticks} ticks -> {out}")
    return out / "report.html"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "liminal-report-shot")
    parser.add_argument("--html", type=Path, help="screenshot this report instead of a sample")
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    if args.html:
        html = args.html
    else:
        shutil.rmtree(args.out, ignore_errors=True)
        html = sample_report(args.out, args.ticks)
    png = render_screenshot(html, html.with_name("report.png"), height=args.height)
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
