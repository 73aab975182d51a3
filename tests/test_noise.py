"""The noise decision on its own: run records built from real HDR histograms and per-second rows."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import pytest

from liminal_tui.metrics.recorder import new_histogram
from liminal_tui.history import compare, load_run, scan
from liminal_tui.history.noise import quantile_halfwidth, t975, welch
from liminal_tui.report.tables import HISTORY_HEADER


def make_run(folder: Path, latencies_ms: list[float], per_second_p50: list[float], rps: list[float],
             started: str = "2026-12-01T10:00:00+00:00") -> Path:
    """A report folder with summary.json (the endpoint's histogram encoded) and a per-second history."""
    import json

    folder.mkdir(parents=True)
    hist = new_histogram()
    for ms in latencies_ms:
        hist.record_value(int(ms * 1000))
    pct = {f"p{p:g}": hist.get_value_at_percentile(p) / 1000 for p in (50, 95, 99)}
    seconds = len(rps)
    row = {"kind": "http", "type": "GET", "name": "GET /x", "method": "GET", "requests": round(sum(rps)),
           "successes": round(sum(rps)), "failures": 0, "error_rate": 0.0, "rps": sum(rps) / seconds,
           "latency_ms": {"count": len(latencies_ms), "min": min(latencies_ms), "max": max(latencies_ms),
                          "mean": sum(latencies_ms) / len(latencies_ms), "percentiles": pct},
           "latency_hdr": hist.encode().decode()}
    summary = {"schema_version": 1, "tool": {"name": "liminal-tui", "version": "0"}, "profile": "p",
               "target": "http://127.0.0.1:1", "started_at": started, "duration": {"actual_s": seconds},
               "endpoints": [row], "aggregates": {"http": {**row, "name": "Aggregated"},
                                                  "all": {**row, "kind": "all", "type": "", "name": "Aggregated"}},
               "thresholds": {"verdicts": []}, "passed": True}
    (folder / "summary.json").write_text(json.dumps(summary))
    with open(folder / "results_stats_history.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HISTORY_HEADER)
        for i, (p50, r) in enumerate(zip(per_second_p50, rps)):
            for type_, name in (("GET", "GET /x"), ("", "Aggregated")):
                writer.writerow([1000 + i, 4, type_, name, r, 0, p50, p50, p50, p50, p50, p50, p50, p50, p50, p50, p50,
                                 0, 0, 0, 0, 0, 0, 0])
    return folder


def sample(median: float, n: int, seed: int) -> list[float]:
    rnd = random.Random(seed)
    return [rnd.lognormvariate(0, 0.3) * median for _ in range(n)]


def test_t_quantiles_and_welch() -> None:
    assert t975(1) == pytest.approx(12.706) and t975(10) == pytest.approx(2.228) and t975(500) == 1.96
    assert welch([1, 2], [1, 2, 3]) is None  # two seconds tell nothing about the spread
    assert welch([5, 5, 5], [5, 5, 5]) == 0.0
    assert welch([4, 5, 6, 5], [5, 6, 4, 5]) > welch([4.9, 5, 5.1, 5], [5, 5.1, 4.9, 5])


def test_quantile_interval_narrows_with_samples() -> None:
    def hist(n: int, seed: int):
        h = new_histogram()
        for ms in sample(10.0, n, seed):
            h.record_value(int(ms * 1000))
        return h

    small = quantile_halfwidth(hist(200, 1), hist(200, 2), 0.99)
    large = quantile_halfwidth(hist(20000, 3), hist(20000, 4), 0.99)
    assert large < small / 3


def test_a_one_percent_move_is_same_and_a_large_one_is_not(tmp_path: Path) -> None:
    steady = [10.0, 10.1, 9.9, 10.0, 10.05, 9.95]
    old = load_run(make_run(tmp_path / "old", sample(10.0, 20000, 1), steady, [100.0] * 6))
    one_pct = load_run(make_run(tmp_path / "one", sample(10.1, 20000, 2), [x * 1.01 for x in steady], [101.0] * 6))
    slower = load_run(make_run(tmp_path / "slow", sample(13.0, 20000, 3), [x * 1.3 for x in steady], [100.0] * 6))
    assert compare(old, one_pct).total.metric("p50").verdict == "same"
    verdict = compare(old, slower).total.metric("p50")
    assert verdict.verdict == "worse" and verdict.change == pytest.approx(0.3, abs=0.03)
    assert compare(slower, old).total.metric("p50").verdict == "better"


def test_a_wobbly_endpoint_needs_a_larger_change(tmp_path: Path) -> None:
    """+20% on the median: worse when the seconds agree, same when they wobble by ±40%."""
    base = sample(10.0, 5000, 1)
    quiet = load_run(make_run(tmp_path / "q", base, [10.0, 10.2, 9.8, 10.1], [1000.0] * 4))
    quiet_new = load_run(make_run(tmp_path / "qn", sample(12.0, 5000, 2), [12.0, 12.2, 11.8, 12.1], [1000.0] * 4))
    wobbly = load_run(make_run(tmp_path / "w", base, [6.0, 14.0, 7.0, 13.0], [1000.0] * 4))
    wobbly_new = load_run(make_run(tmp_path / "wn", sample(12.0, 5000, 2), [8.0, 16.0, 7.5, 16.5], [1000.0] * 4))
    assert compare(quiet, quiet_new).total.metric("p50").verdict == "worse"
    wobble = compare(wobbly, wobbly_new).total.metric("p50")
    assert wobble.verdict == "same" and "per-second" in wobble.basis
    # rates the same way: +15% req/s is better only when the seconds agree
    assert compare(quiet, load_run(make_run(tmp_path / "r1", base, [10.0] * 4, [1150.0, 1160.0, 1140.0, 1150.0]))
                   ).total.metric("rps").verdict == "better"
    assert compare(load_run(make_run(tmp_path / "r2", base, [10.0] * 4, [600.0, 1400.0, 700.0, 1300.0])),
                   load_run(make_run(tmp_path / "r3", base, [10.0] * 4, [700.0, 1600.0, 800.0, 1500.0]))
                   ).total.metric("rps").verdict == "same"


def test_index_orders_runs_and_skips_what_is_not_a_report(tmp_path: Path) -> None:
    make_run(tmp_path / "b", sample(10, 100, 1), [10.0] * 3, [1.0] * 3, started="2026-12-01T11:00:00+00:00")
    make_run(tmp_path / "a", sample(10, 100, 1), [10.0] * 3, [1.0] * 3, started="2026-12-01T12:00:00+00:00")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "summary.json").write_bytes(b"\xff\xfe garbage")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "summary.json").write_text('{"tool": {"name": "liminal-tui"}, "schema_version": 1, "profile": "p"}')
    (tmp_path / "plain-file.txt").write_text("not a folder")
    index = scan(tmp_path)
    assert [r.folder.name for r in index.runs] == ["b", "a"]  # by start time, not by name
    assert any(n.startswith("skipped c: ") for n in index.notes)
    assert "skipped d: 'endpoints' is missing or not a list" in index.notes
    assert index.previous(index.runs[1]).folder.name == "b" and index.previous(index.runs[0]) is None
    assert scan(tmp_path / "missing").runs == []


def test_history_does_not_import_textual() -> None:
    code = ("import sys, liminal_tui.history, liminal_tui.history.commands, liminal_tui.history.baseline, "
            "liminal_tui.history.html; assert 'textual' not in sys.modules, 'textual imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_corrupted_histogram_is_a_note_not_a_traceback(tmp_path: Path) -> None:
    import json

    old = make_run(tmp_path / "old", sample(10.0, 1000, 1), [10.0] * 3, [100.0] * 3)
    new = make_run(tmp_path / "new", sample(10.0, 1000, 2), [10.0] * 3, [100.0] * 3)
    data = json.loads((new / "summary.json").read_text())
    data["endpoints"][0]["latency_hdr"] = "HISTFAAAAB" + "x" * 30
    (new / "summary.json").write_text(json.dumps(data))
    (new / "results_stats_history.csv").unlink()
    c = compare(load_run(old), load_run(new))
    p50 = c.endpoints[0].metric("p50")
    assert p50.verdict in ("same", "better", "worse") and "histogram" not in p50.basis
    assert any("latency histogram of GET /x cannot be read" in n for n in c.notes)
    assert any("no results_stats_history.csv" in n for n in c.notes)


def test_spread_across_other_runs_widens_the_noise(tmp_path: Path) -> None:
    """+12% p50 with tight seconds is worse; with three earlier runs that wandered by ±15%, it is same."""
    def run(name: str, median: float, hour: int):
        return load_run(make_run(tmp_path / name, sample(median, 5000, hour), [median] * 4, [1000.0] * 4,
                                 started=f"2026-12-01T{hour:02d}:00:00+00:00"))

    earlier = [run("e1", 8.5, 1), run("e2", 11.5, 2), run("e3", 10.0, 3)]
    old, new = run("old", 10.0, 4), run("new", 11.2, 5)
    alone = compare(old, new).total.metric("p50")
    assert alone.verdict == "worse" and "between runs" not in alone.basis
    with_history = compare(old, new, history=[*earlier, old, new])
    p50 = with_history.total.metric("p50")
    assert p50.verdict == "same" and "between runs" in p50.basis
    assert [r.folder.name for r in with_history.peers] == ["e1", "e2", "e3"]
    assert compare(old, new, history=earlier[:2]).peers == []  # two runs tell nothing about the spread


def test_a_hand_edited_summary_is_skipped_with_the_key_named(tmp_path: Path) -> None:
    import json

    folder = make_run(tmp_path / "edited", sample(10.0, 100, 1), [10.0] * 3, [100.0] * 3)
    data = json.loads((folder / "summary.json").read_text())
    data["endpoints"][0]["rps"] = "fast"
    (folder / "summary.json").write_text(json.dumps(data))
    index = scan(tmp_path)
    assert index.runs == [] and index.notes == ["skipped edited: endpoints[0].rps: not a number"]
    data["endpoints"][0]["rps"] = 1.0
    data["aggregates"]["all"]["latency_ms"]["percentiles"]["p99"] = None
    (folder / "summary.json").write_text(json.dumps(data))
    assert scan(tmp_path).notes == ["skipped edited: aggregates.latency_ms: not a latency record"]
