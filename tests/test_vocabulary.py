"""One vocabulary, and endpoints held apart from aggregates: an endpoint may be named "Aggregated"."""

from __future__ import annotations

import subprocess
import sys

from liminal_tui.metrics.aggregate import Aggregator
from liminal_tui.metrics.judge import judge
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.metrics.snapshot import IntervalReport, WorkerHealth
from liminal_tui.headless import format_summary
from liminal_tui.metrics.kinds import AGGREGATED, ALL, KINDS, PERCENTILE_NAMES, PERCENTILES, Kind
from liminal_tui.profile.thresholds import LATENCY_STATS
from liminal_tui.report.tables import stats_rows
from runs import make_profile

PROFILE = """
[load]
users = 1
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/slow"
name = "Aggregated"
[[scenarios.steps]]
type = "http"
path = "/fast"
name = "GET /fast"
[thresholds]
http = ["count >= 100", "p50 < 5ms"]
"http:Aggregated" = ["count <= 10"]
"""


def _final():
    agg = Aggregator("p", "http://127.0.0.1:1", "closed", 1.0)
    rec = Recorder()
    slow, fast = rec.endpoint("http", "Aggregated", "GET"), rec.endpoint("http", "GET /fast", "GET")
    for _ in range(10):
        slow.success(100_000_000, status=200)  # 100 ms
    for _ in range(90):
        fast.success(1_000_000, status=200)  # 1 ms
    agg.add(IntervalReport(worker=0, tick=1, t_start=0.0, t_end=1.0, endpoints=rec.drain(), users=1, target=1.0,
                           iterations=10, dropped=0, http_connections=1, ws_open=0, ws_connects=0, ws_reconnects=0,
                           ws_drops=0, ws_messages_in=0, ws_messages_out=0, health=WorkerHealth(0, 1.0, 0.1, 0.1, 50.0),
                           final=True))
    return agg.snapshot("finished", 1.0, final=True)


def test_thresholds_judge_the_aggregate_even_beside_an_endpoint_named_aggregated():
    final = _final()
    assert final.find("http").total == 100 and final.find("http", "Aggregated").total == 10
    rules = make_profile("http://127.0.0.1:1", PROFILE).thresholds.parsed()
    verdicts = {(v.rule.selector, v.rule.text): v for v in judge(rules, final)}
    assert verdicts[("http", "count >= 100")].observed == 100 and verdicts[("http", "count >= 100")].passed
    assert verdicts[("http", "p50 < 5ms")].passed  # the aggregate's median is a fast request
    assert verdicts[("http:Aggregated", "count <= 10")].observed == 10


def test_readers_tell_the_endpoint_named_aggregated_from_the_aggregate():
    final = _final()
    assert [s.name for s in final.total_stats.endpoints] == ["Aggregated", "GET /fast"]
    assert [(s.kind, s.total) for s in final.total_stats.aggregates] == [("http", 100), (ALL, 100)]
    rows = stats_rows(final)
    assert [(r[0], r[1], r[2]) for r in rows] == [("GET", "Aggregated", 10), ("GET", "GET /fast", 90), ("", "Aggregated", 100)]
    text = format_summary(final, [], None, [])
    assert f"{AGGREGATED} (http)" in text and "100" in text


def test_the_vocabulary_is_one_dependency_free_module():
    assert [str(k) for k in KINDS] == ["http", "ws_connect", "ws_ping", "ws_message"] and Kind.HTTP == "http"
    assert PERCENTILE_NAMES == tuple(f"p{p:g}" for p in PERCENTILES[:-1])
    assert set(PERCENTILE_NAMES) < set(LATENCY_STATS)
    code = "import sys, liminal_tui.metrics.kinds; sys.exit(sorted(m for m in sys.modules if m.startswith('liminal_tui')) != ['liminal_tui', 'liminal_tui.metrics', 'liminal_tui.metrics.kinds'])"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_incidents_are_picked_by_kind_not_by_words():
    """A rewording cannot drop an incident from the report, and a word in a text cannot add one."""
    from dataclasses import replace

    from liminal_tui.metrics.events import Event, EventKind, StopCause, StopReason
    from liminal_tui.session import Session

    session = Session(make_profile("http://127.0.0.1:1", PROFILE), workers=0, report_base=None)
    events = (Event(EventKind.PHASE, "phase: failed, killed, died"), Event(EventKind.WORKER_DIED, "worker 1 gone"),
              Event(EventKind.THRESHOLD_LOST, "rule broken"))
    session.run.bus.publish(replace(_final(), events=events))
    assert session.incidents == ["1s: worker 1 gone", "1s: rule broken"]
    assert str(StopReason(StopCause.INTERRUPTED, "SIGINT")) == "interrupted (SIGINT)"
    assert str(StopReason(StopCause.THRESHOLD_LOST, "http p99 < 1ms")) == "threshold lost: http p99 < 1ms"
    assert str(StopReason(StopCause.COMPLETED)) == "completed" and StopReason(StopCause.COMPLETED).completed
