"""The report tests' data: a profile with secrets and markup in it, ticks of real samples, and the writer.

Shared by test_report.py and test_report_timings.py (not a test module itself)."""

from __future__ import annotations

import csv
from pathlib import Path

from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.events import StopReason
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.metrics.snapshot import IntervalReport, Snapshot, WorkerHealth
from liminal_tui.report import ReportWriter

XSS_NAME = "GET <script>alert(1)</script>"
XSS_MESSAGE = '"><img src=x onerror=alert(1)>'
SECRET = "Bearer s3cr3t-literal-4242"
ENV_SECRET = "env-s3cr3t-9191"
TARGET = "http://127.0.0.1:8765"

PROFILE = f"""
name = "checkout"
description = "Report <b>test</b>"
target = "{TARGET}"
duration = "3s"
vars = {{ api_token = "${{env:API_TOKEN}}", plain = "hello" }}

[http.headers]
Authorization = "{SECRET}"
X-Trace = "${{env:API_TOKEN}}"
Accept = "application/json"

[load]
users = 5

[thresholds]
http = ["p99 < 100ms", "error_rate < 50%"]
ws_ping = ["p95 < 50ms"]

[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws"
heartbeat = "1s"
headers = {{ Cookie = "sid=abc-cookie-secret" }}
[[scenarios.steps]]
type = "http"
path = "/api/items"
name = "GET /api/items"
[[scenarios.steps]]
type = "ws_wait"
name = "broadcast item.updated"
"""

HTTP_NAMES = ("GET /api/items", XSS_NAME)
MS = 1_000_000  # ns


def _report(worker: int, tick: int, rec: Recorder, *, users: int = 5, cpu: float = 20.0, ws: bool = True) -> IntervalReport:
    return IntervalReport(
        worker=worker, tick=tick, t_end=float(tick), endpoints=rec.drain(), users=users, target=float(users),
        iterations=10, dropped=0, http_connections=users, ws_open=3 if ws else 0, ws_connects=3 if tick == 1 and ws else 0,
        ws_reconnects=1 if tick == 2 and ws else 0, ws_drops=0, ws_messages_in=7 if ws else 0,
        ws_messages_out=2 if ws else 0, health=WorkerHealth(worker, cpu, 3.0, 2.0, 80.0),
        ws_messages_timed_at_read=tick if ws else 0,
    )


def _tick(rec: Recorder, base_ms: float, ok: int = 40, failed: int = 3) -> None:
    """A tick of samples around ``base_ms``: two HTTP endpoints, heartbeats, broadcasts, one connect."""
    for name in HTTP_NAMES:
        ep = rec.endpoint("http", name, "GET")
        for i in range(ok):
            ep.success(int((base_ms + i * base_ms / ok) * MS), nbytes=512, status=200)
        for _ in range(failed):
            ep.failure(int(base_ms * 2 * MS), "HTTP 503", XSS_MESSAGE if name == XSS_NAME else "Service Unavailable", status=503)
    rec.endpoint("ws_connect", "WS /ws").success(int(base_ms * MS))
    for i in range(5):
        rec.endpoint("ws_ping", "WS /ws").success(int((1 + i) * MS))
        rec.endpoint("ws_message", "broadcast item.updated").success(int((base_ms / 2 + i) * MS))


def _run(writer: ReportWriter, ticks: list[float], *, cpu: float = 20.0, stop_reason: StopReason | None = None) -> Snapshot:
    """Tick the real pipeline; every snapshot goes to ``writer.on_snapshot``, the last one is final."""
    agg = Aggregator("checkout", TARGET, "closed", duration=3.0)
    rec = Recorder()
    snap = None
    for n, base in enumerate(ticks, start=1):
        _tick(rec, base)
        agg.add(_report(0, n, rec, cpu=cpu))
        final = n == len(ticks)
        snap = agg.snapshot("finished" if final else "steady", float(n), final=final, stop_reason=stop_reason)
        writer.on_snapshot(snap)
    assert snap is not None
    return snap


def _writer(tmp_path: Path, profile, started: float = 1_764_000_000.0) -> ReportWriter:
    return ReportWriter(tmp_path / "reports", profile, target_url=TARGET, started_at=started,
                        tool_version="0.1.0", settings={"workers": 1})


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]
