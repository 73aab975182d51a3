"""The run report: real snapshots (Recorder -> IntervalReport -> Aggregator) written by ReportWriter.
Connection and delivery timings are in test_report_timings.py; the data both use is in report_data.py."""

from __future__ import annotations

import json
import re
import time

import pytest

from liminal_tui.headless import format_summary
from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.events import StopCause, StopReason
from liminal_tui.metrics.judge import judge
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.profile.loader import parse_profile
from liminal_tui.profile.thresholds import parse_rule
from liminal_tui.report import FILES, ReportError, ReportWriter
from liminal_tui.report.tables import FAILURES_HEADER, HISTORY_HEADER, STATS_HEADER
from liminal_tui.report.timeline import Point, Timeline
from report_data import ENV_SECRET, MS, PROFILE, SECRET, TARGET, XSS_MESSAGE, XSS_NAME, _csv, _report, _run, _writer

@pytest.fixture
def profile(monkeypatch):
    monkeypatch.setenv("API_TOKEN", ENV_SECRET)
    return parse_profile(PROFILE)


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
                              "messages_in": 21, "messages_out": 6, "messages_timed_at_read": 6}
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
    assert "6 of 21 messages in were timed when a worker read" in html  # the ones with no arrival stamp, said
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
    assert "3 of 14 messages in timed at the worker's read" in text  # 1 + 2 in two ticks, said as the report does


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
