"""Per-endpoint histograms beyond latency in the report: connection timings, delivery from a send stamp,
and each endpoint's own latency_hdr (report_data.py has the profile and the ticks)."""

from __future__ import annotations

import json

import pytest

from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.profile.loader import parse_profile
from report_data import ENV_SECRET, MS, PROFILE, TARGET, _report, _run, _writer


@pytest.fixture
def profile(monkeypatch):
    monkeypatch.setenv("API_TOKEN", ENV_SECRET)
    return parse_profile(PROFILE)


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
