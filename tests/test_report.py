"""The run report: real snapshots (Recorder -> IntervalReport -> Aggregator) written by ReportWriter."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import pytest

from liminal_tui.headless import format_summary
from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.events import StopCause, StopReason
from liminal_tui.metrics.judge import judge
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.metrics.snapshot import IntervalReport, Snapshot, WorkerHealth
from liminal_tui.profile.loader import parse_profile
from liminal_tui.profile.thresholds import parse_rule
from liminal_tui.report import FILES, ReportError, ReportWriter
from liminal_tui.report.tables import FAILURES_HEADER, HISTORY_HEADER, STATS_HEADER
from liminal_tui.report.timeline import Point, Timeline

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


@pytest.fixture
def profile(monkeypatch):
    monkeypatch.setenv("API_TOKEN", ENV_SECRET)
    return parse_profile(PROFILE)


def _writer(tmp_path: Path, profile, started: float = 1_764_000_000.0) -> ReportWriter:
    return ReportWriter(tmp_path / "reports", profile, target_url=TARGET, started_at=started,
                        tool_version="0.1.0", settings={"workers": 1})


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


@pytest.fixture
def written(tmp_path, profile):
    writer = _writer(tmp_path, profile)
    writer.check_writable()
    final = _run(writer, [10.0, 500.0, 20.0])
    out = writer.write(final, judge(profile.thresholds.parsed(), final), notes=["note <i>x</i>"])
    return out, final


def test_report_dir_name_and_files(tmp_path, profile, written):
    out, _ = written
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(1_764_000_000.0))
    assert out == tmp_path / "reports" / f"checkout_{stamp}"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    second = _writer(tmp_path, profile)
    assert second.check_writable().name == f"checkout_{stamp}-2"


def test_files_share_the_history_file_mode(written):
    out, _ = written
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert set(modes.values()) == {modes["results_stats_history.csv"]}


def test_csv_headers_exact(written):
    out, _ = written
    assert ",".join(_csv(out / "results_stats.csv")[0]) == (  # Locust's columns, then ours
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
        "99.99%,100%,Skipped Count"
    )
    assert ",".join(_csv(out / "results_failures.csv")[0]) == "Method,Name,Error,Occurrences"
    assert ",".join(_csv(out / "results_stats_history.csv")[0]) == (
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,"
        "100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
        "Total Min Response Time,Total Max Response Time,Total Average Content Size"
    )
    assert (STATS_HEADER, FAILURES_HEADER) == (_csv(out / "results_stats.csv")[0], _csv(out / "results_failures.csv")[0])
    assert HISTORY_HEADER == _csv(out / "results_stats_history.csv")[0]


def test_stats_rows_match_summary(written):
    out, final = written
    _, rows = _csv(out / "results_stats.csv")
    summary = json.loads((out / "summary.json").read_text())
    *endpoints, agg = rows
    assert [(r["Type"], r["Name"]) for r in endpoints] == [
        ("GET", "GET /api/items"), ("GET", XSS_NAME), ("WS", "WS /ws"), ("WSPING", "WS /ws"),
        ("WSMSG", "broadcast item.updated"),
    ]
    assert (agg["Type"], agg["Name"]) == ("", "Aggregated")
    assert int(agg["Request Count"]) == sum(int(r["Request Count"]) for r in endpoints) == 3 * (2 * 43 + 11)
    assert int(agg["Failure Count"]) == sum(int(r["Failure Count"]) for r in endpoints) == 3 * 2 * 3
    records = summary["endpoints"] + [summary["aggregates"]["all"]]
    assert len(records) == len(rows)
    for row, rec in zip(rows, records):
        assert (row["Name"], row["Type"]) == (rec["name"], rec["type"])
        assert int(row["Request Count"]) == rec["requests"] and int(row["Failure Count"]) == rec["failures"]
        lat = rec["all_latency_ms"]  # the CSV times every sample, failures included, as Locust does
        assert int(row["Skipped Count"]) == rec["skipped"] == 0
        assert float(row["Median Response Time"]) == lat["percentiles"]["p50"]
        assert float(row["Average Response Time"]) == lat["mean"]
        assert (float(row["Min Response Time"]), float(row["Max Response Time"])) == (lat["min"], lat["max"])
        assert float(row["Requests/s"]) == rec["rps"] and float(row["Failures/s"]) == rec["fps"]
        assert float(row["Average Content Size"]) == rec["avg_bytes"]
        for col, key in (("50%", "p50"), ("95%", "p95"), ("99.9%", "p99.9"), ("100%", "p100")):
            assert float(row[col]) == lat["percentiles"][key]
    get = final.find("http", "GET /api/items")
    assert summary["endpoints"][0]["requests"] == get.total == 3 * 43
    # the successes-only figures stay beside them: the failures (at twice the tick's base) are the slowest
    ok, every = summary["endpoints"][0]["latency_ms"], summary["endpoints"][0]["all_latency_ms"]
    assert (ok["count"], every["count"]) == (120, 129) and every["max"] > ok["max"]
    assert summary["endpoints"][0]["statuses"] == {"200": 120, "503": 9}


def test_failures_csv_and_summary(written):
    out, _ = written
    _, rows = _csv(out / "results_failures.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert {(r["Method"], r["Name"], r["Error"], int(r["Occurrences"])) for r in rows} == {
        ("GET", "GET /api/items", "HTTP 503: Service Unavailable", 9),
        ("GET", XSS_NAME, f"HTTP 503: {XSS_MESSAGE}", 9),
    }
    assert summary["failures"]["total"] == 18 == sum(g["occurrences"] for g in summary["failures"]["groups"])


def test_history_has_interval_percentiles(written):
    out, final = written
    _, rows = _csv(out / "results_stats_history.csv")
    per_tick = 5 + 1
    assert len(rows) == 3 * per_tick
    ticks = [rows[i : i + per_tick] for i in range(0, len(rows), per_tick)]
    for tick in ticks:
        assert [r["Name"] for r in tick][-1] == "Aggregated" and len({r["Timestamp"] for r in tick}) == 1
    get = [t[0] for t in ticks]
    assert all(r["Name"] == "GET /api/items" for r in get)
    medians = [float(r["50%"]) for r in get]
    assert 10 <= medians[0] <= 16 and 500 <= medians[1] <= 800 and 20 <= medians[2] <= 32  # failures included
    # the percentiles are the tick's own; the Total* columns are cumulative
    assert [int(r["Total Request Count"]) for r in get] == [43, 86, 129]
    assert float(get[2]["100%"]) < 50 < 900 < float(get[2]["Total Max Response Time"])
    assert float(get[1]["Requests/s"]) == pytest.approx(43.0)
    assert int(ticks[-1][-1]["Total Request Count"]) == final.find("all").total


def test_summary_contents(written):
    out, _ = written
    s = json.loads((out / "summary.json").read_text())
    assert s["schema_version"] == 1 and s["tool"]["version"] == "0.1.0" and s["profile"] == "checkout"
    assert s["target"] == TARGET and s["started_at"].startswith(time.strftime("%Y-%m-%dT", time.localtime(1_764_000_000)))
    assert s["duration"] == {"actual_s": 3.0, "planned_s": 3.0} and s["stop_reason"] == "completed"
    assert s["load"]["model"] == "closed" and s["load"]["users"] == 5 and s["settings"] == {"workers": 1}
    assert set(s["endpoints"][0]["latency_ms"]["percentiles"]) == {
        "p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99", "p100"}
    assert s["websocket"] == {"open_at_end": 3, "peak_open": 3, "connects": 3, "reconnects": 1, "drops": 0,
                              "messages_in": 21, "messages_out": 6}
    verdicts = {v["rule"]: v for v in s["thresholds"]["verdicts"]}
    assert verdicts["p99 < 100ms"]["passed"] is False and verdicts["p95 < 50ms"]["passed"] is True
    assert s["passed"] is False and s["thresholds"]["passed"] is False
    assert s["generator"]["saturated"] is False and s["generator"]["workers"][0]["max_cpu_percent"] == 20.0
    assert s["notes"] == ["note <i>x</i>"]


_URL = re.compile(r"https?://[^\s\"'<>)]*")


def test_html_is_self_contained(written):
    out, final = written
    html = (out / "report.html").read_text()
    assert "GET /api/items" in html and "broadcast item.updated" in html and "checkout" in html
    assert "<svg" in html and "Latency distribution" in html and "Heartbeat round trip" in html
    agg = final.find("all")
    assert f"{agg.total:,}" in html and f"{agg.failures:,}" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    urls = {u for u in _URL.findall(html) if not u.startswith("http://www.w3.org/")}
    assert urls == {TARGET}


def test_html_escapes_everything_from_outside(written):
    out, _ = written
    html = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "<img" not in html and "onerror=alert(1)>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;test&lt;/b&gt;" in html and "note &lt;i&gt;x&lt;/i&gt;" in html


def test_secrets_never_written(written):
    out, _ = written
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        for secret in (SECRET, "s3cr3t-literal", ENV_SECRET, "abc-cookie-secret"):
            assert secret not in text, f"{secret!r} leaked into {path.name}"
    toml_text = (out / "profile.toml").read_text()
    assert 'Authorization = "***"' in toml_text and 'Cookie = "***"' in toml_text
    assert 'api_token = "***"' in toml_text and 'plain = "hello"' in toml_text
    assert 'Accept = "application/json"' in toml_text
    assert parse_profile(toml_text.replace('"***"', '"x"')).name == "checkout"


def test_zero_samples(tmp_path, profile):
    writer = _writer(tmp_path, profile)
    writer.check_writable()
    final = Aggregator("checkout", TARGET, "closed", 3.0).snapshot(
        "finished", 0.4, final=True, stop_reason=StopReason(StopCause.INTERRUPTED, "SIGINT"))
    out = writer.write(final, judge(profile.thresholds.parsed(), final))
    _, rows = _csv(out / "results_stats.csv")
    assert [(r["Name"], r["Request Count"], r["50%"]) for r in rows] == [("Aggregated", "0", "N/A")]
    assert _csv(out / "results_failures.csv")[1] == []
    assert [r["Name"] for r in _csv(out / "results_stats_history.csv")[1]] == ["Aggregated"]
    s = json.loads((out / "summary.json").read_text())
    assert s["stop_reason"] == "interrupted (SIGINT)" and s["endpoints"] == [] and s["passed"] is False
    assert s["aggregates"]["all"]["requests"] == 0 and s["aggregates"]["all"]["latency_ms"] is None
    html = (out / "report.html").read_text()
    assert "interrupted (SIGINT)" in html and "No request was made" in html


def test_interrupted_and_saturated(tmp_path, profile):
    writer = _writer(tmp_path, profile)
    final = _run(writer, [10.0, 12.0], cpu=97.0, stop_reason=StopReason(StopCause.INTERRUPTED, "SIGINT"))
    out = writer.write(final, [], notes=[writer.health.warning, "another note"])  # as Session.notes gives them
    s = json.loads((out / "summary.json").read_text())
    assert s["stop_reason"] == "interrupted (SIGINT)" and s["duration"]["actual_s"] == 2.0
    assert s["generator"]["saturated"] is True and "saturated" in s["generator"]["warning"]
    html = (out / "report.html").read_text()
    assert "The run stopped early: interrupted (SIGINT)" in html and "class=\"alert warn\"" in html
    assert html.count("The load generator was saturated") == 1 and "another note" in html  # said once
    assert len(_csv(out / "results_stats_history.csv")[1]) == 2 * 6  # the final tick is not counted twice


def test_open_model_service_time(tmp_path, profile):
    writer = _writer(tmp_path, profile)
    agg = Aggregator("checkout", TARGET, "open", duration=2.0)
    rec = Recorder(open_model=True)
    for n in (1, 2):
        ep = rec.endpoint("http", "GET /api/items", "GET")
        for i in range(50):
            ep.success((100 + i) * MS, nbytes=10, status=200, service_ns=(20 + i) * MS)
        agg.add(_report(0, n, rec, ws=False))
        writer.on_snapshot(snap := agg.snapshot("steady", float(n), final=n == 2))
    out = writer.write(snap, [])
    rec_ = json.loads((out / "summary.json").read_text())["endpoints"][0]
    assert rec_["latency_ms"]["percentiles"]["p50"] > 100 > rec_["service_ms"]["percentiles"]["p50"] > 20
    html = (out / "report.html").read_text()
    assert "Service time (uncorrected" in html and "WebSocket connections open" not in html


def test_unwritable_base_dir(tmp_path, profile):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    writer = ReportWriter(blocker / "reports", profile, target_url=TARGET, started_at=time.time(),
                          tool_version="0.1.0", settings={})
    with pytest.raises(ReportError) as exc:
        writer.check_writable()
    assert "\n" not in exc.value.message and "a-file" in exc.value.message


def test_timeline_stays_bounded():
    timeline = Timeline(limit=3600)
    for t in range(10_000):
        timeline.add(Point(float(t), 1.0, 0.0, 5.0, 5.0, 1.0, 2.0, 900.0 if t == 7777 else 3.0, 0.0))
    assert len(timeline.points) <= 3600
    drawn = timeline.series(720)
    assert len(drawn) <= 720 and drawn[-1].t == 9999.0
    assert max(p.p99 for p in drawn) == 900.0  # a spike survives merging


def test_on_snapshot_never_raises(tmp_path, profile):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    writer = ReportWriter(blocker / "reports", profile, target_url=TARGET, started_at=time.time(),
                          tool_version="0.1.0", settings={})
    final = _run(writer, [10.0, 20.0])  # the history cannot be written: the run must go on
    with pytest.raises(ReportError):
        writer.write(final, [])


@pytest.mark.parametrize(("stop_reason", "outcome", "badge"), [
    (StopReason(StopCause.COMPLETED), "passed", "PASSED"),
    (StopReason(StopCause.STOPPED), "stopped", "STOPPED"),
    (StopReason(StopCause.INTERRUPTED, "SIGTERM"), "stopped", "STOPPED"),
    (StopReason(StopCause.ABORTED), "aborted", "ABORTED"),
    (StopReason(StopCause.INTERRUPTED, "SIGINT, twice"), "aborted", "ABORTED"),
    (StopReason(StopCause.THRESHOLD_LOST, "http p99 < 1ms"), "stopped", "STOPPED"),  # ended early, the rest passed
], ids=str)
def test_a_stopped_or_aborted_run_is_never_passed(tmp_path, profile, stop_reason, outcome, badge):
    writer = _writer(tmp_path, profile)
    final = _run(writer, [10.0, 12.0], stop_reason=stop_reason)
    verdicts = judge([parse_rule("ws_ping", "p95 < 50ms")], final)
    assert verdicts and all(v.passed for v in verdicts)
    out = writer.write(final, verdicts)
    s = json.loads((out / "summary.json").read_text())
    assert s["outcome"] == outcome and s["passed"] is (outcome == "passed") and s["thresholds"]["passed"] is True
    html = (out / "report.html").read_text()
    assert f">{badge}</span>" in html
    assert (">PASSED</span>" in html) is (outcome == "passed")
    text = format_summary(final, verdicts, str(out), [])
    assert f"Outcome: {badge}" in text and ("PASSED" in text) is (outcome == "passed")


def test_charts_read_well(tmp_path, profile):
    """Users in whole numbers, headroom above the tallest bar, and each point's value on hover."""
    writer = _writer(tmp_path, profile)
    final = _run(writer, [10.0, 500.0, 20.0])
    html = (writer.write(final, []) / "report.html").read_text()
    svgs = [chunk.split("</svg>")[0] for chunk in html.split("<svg")[1:]]
    users = next(svg for svg in svgs if "Active users" in svg)
    labels = re.findall(r'class="axis y[^"]*">(.*?)</g></g>', users, re.S)[0]
    ticks = re.findall(r"<text[^>]*>([^<]*)</text>", labels)
    assert ticks and all(t.isdigit() for t in ticks), ticks
    assert re.search(r"<title>active at 0:01: 5</title>", users)
    assert re.search(r"<title>p99 at 0:02: [0-9.,]+ ms</title>", html)
    histogram = next(svg for svg in svgs if "Latency distribution" in svg)
    assert re.search(r"<title>&lt;= [0-9.,]+ ms: [0-9,]+ requests</title>", histogram)
    tops = [float(y) for y in re.findall(r'<rect x="[^"]*" y="([^"]*)"[^>]*class="rect reactive', histogram)]
    assert tops and min(tops) > 10  # the tallest bar starts below the plot's top edge


def test_the_html_says_what_aggregated_adds_up(written):
    """The CSV's Aggregated row adds up every kind; the page's header cards and last rows say so."""
    out, final = written
    html = (out / "report.html").read_text()
    assert "requests, all kinds" in html and "p99 ms, successes, all kinds" in html
    # the endpoint table and the two percentile tables (successes; every sample)
    assert html.count("Aggregated (all kinds)") == 3
    _, rows = _csv(out / "results_stats.csv")
    assert rows[-1]["Name"] == "Aggregated"  # the CSV keeps Locust's name


def test_progress_line_counts_users_in_whole_numbers(tmp_path, profile):
    """During a ramp the load shape's target is fractional (1.00058): the progress line says 1, not 1.00058."""
    from dataclasses import replace

    from liminal_tui.headless import ProgressPrinter

    final = _run(_writer(tmp_path, profile), [10.0])
    line = ProgressPrinter.progress(replace(final, users=0, target_load=1.00058, model="closed"))
    assert "users 0/1 " in line + " " and "1.00058" not in line


def test_connection_timings_in_summary_and_html(tmp_path, profile):
    writer = _writer(tmp_path, profile)
    agg = Aggregator("checkout", TARGET, "closed", duration=2.0)
    rec = Recorder(timings=True)
    for n in (1, 2):
        ep = rec.endpoint("http", "GET /api/items", "GET")
        for i in range(50):
            ep.success((10 + i) * MS, nbytes=10, status=200)
            opened = i < 2 and n == 1  # two requests opened a connection, the rest reused it
            ep.timed((5 + i) * MS, 2 * MS if opened else -1, 3 * MS if opened else -1)
        rec.endpoint("ws_connect", "WS /ws").success(MS)
        agg.add(_report(0, n, rec, ws=False))
        writer.on_snapshot(snap := agg.snapshot("steady", float(n), final=n == 2))
    out = writer.write(snap, [])
    summary = json.loads((out / "summary.json").read_text())
    [http, ws] = summary["endpoints"]
    t = http["timings_ms"]
    assert t["ttfb"]["count"] == 100 and t["ttfb"]["min"] == 5.0 and 5.0 < t["ttfb"]["percentiles"]["p50"] < 60.0
    assert t["connect"]["count"] == 2 and t["connect"]["max"] == 2.0
    assert t["tls"]["count"] == 2 and t["tls"]["max"] == 3.0
    assert "timings_ms" not in ws  # WebSocket endpoints keep none
    assert summary["aggregates"]["http"]["timings_ms"]["ttfb"]["count"] == 100
    html = (out / "report.html").read_text()
    assert "Connection timings (ms)" in html and "first byte p95" in html


def test_no_timings_table_when_switched_off(tmp_path, profile):
    writer = _writer(tmp_path, profile)
    final = _run(writer, [10.0, 12.0])  # Recorder() without timings, as with [http] timings = false
    out = writer.write(final, [])
    assert all("timings_ms" not in e for e in json.loads((out / "summary.json").read_text())["endpoints"])
    assert "Connection timings" not in (out / "report.html").read_text()


def test_delivery_timings_in_summary_html_and_headless(tmp_path, profile):
    """A ws_wait with a stamp: its messages' delivery in summary.json, report.html and the headless summary;
    only the ws_message endpoint has it, and the connection-timings table does not list it."""
    from liminal_tui.headless import format_summary

    writer = _writer(tmp_path, profile)
    agg = Aggregator("fanout", TARGET, "closed", duration=1.0)
    rec = Recorder(timings=True)
    ep = rec.endpoint("ws_message", "broadcast memory.updated", "WSMSG")
    for i in range(40):
        ep.success((100 + i) * MS, nbytes=50)
        if i % 4:  # a quarter carried no stamp
            ep.delivered((2 + i) * MS)
    rec.endpoint("ws_connect", "WS /ws").success(MS)
    agg.add(_report(0, 1, rec))
    writer.on_snapshot(snap := agg.snapshot("steady", 1.0, final=True))
    out = writer.write(snap, [])
    summary = json.loads((out / "summary.json").read_text())
    eps = {e["kind"]: e for e in summary["endpoints"]}
    d = eps["ws_message"]["timings_ms"]["delivery"]
    assert d["count"] == 30 and d["min"] == 3.0 and d["max"] == pytest.approx(41.0, rel=1e-3)
    assert list(eps["ws_message"]["timings_ms"]) == ["delivery"] and "timings_ms" not in eps["ws_connect"]
    html = (out / "report.html").read_text()
    assert "Delivery from the server&#39;s send stamp" in html or "Delivery from the server's send stamp" in html
    assert "Connection timings (ms)" not in html
    text = format_summary(snap, [], None, [])
    assert "delivery from the send stamp (30 messages)" in text


def test_an_endpoint_named_aggregated_keeps_its_own_histogram(tmp_path, profile):
    """summary.json's latency_hdr: an endpoint called "Aggregated" is not confused with its kind's total."""
    from hdrh.histogram import HdrHistogram

    agg, rec = Aggregator("checkout", TARGET, "closed", duration=1.0), Recorder()
    for name, n in (("Aggregated", 3), ("GET /other", 10)):
        for i in range(n):
            rec.endpoint("http", name, "GET").success((5 + i) * MS, nbytes=1, status=200)
    agg.add(_report(0, 1, rec, ws=False))
    final = agg.snapshot("finished", 1.0, final=True)
    writer = _writer(tmp_path, profile)
    out = writer.write(final, [], notes=[])
    summary = json.loads((out / "summary.json").read_text())

    def count(record) -> int:
        return HdrHistogram.decode(record["latency_hdr"]).get_total_count()

    (named,) = [e for e in summary["endpoints"] if e["name"] == "Aggregated"]
    assert count(named) == 3 and count(summary["aggregates"]["http"]) == 13
