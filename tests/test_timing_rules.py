"""The timings beside the total (TCP connect, TLS handshake, first byte, WebSocket delivery) in threshold
rules, ``--compare`` and ``timings.csv``: the real CLI against the built-in demo target.

One module fixture makes two real 2-second runs of the same profile: one PATCH a user, each answered by a
stamped broadcast that every user's ``ws_wait`` times (delivery from the server's send stamp). The first
run's rules pass; the second's include one that cannot pass, one on a timing the endpoint never has, and
one relative to the first run as its ``--baseline``.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runs import WRITE_AND_WATCH

pytestmark = pytest.mark.slow  # every test here runs the CLI in a process of its own

PROFILE = """
name = "timings"
target = "builtin"
duration = "2s"

[load]
users = 2
spawn_rate = 100

[thresholds]
{rules}
"""

BROADCAST = "ws_message:broadcast memory.updated"
PASSING = f"""http = ["ttfb.p95 < 10s", "error_rate < 1%"]
"{BROADCAST}" = ["delivery.p99 < 10s", "delivery.max < 10s"]"""
FAILING = f""""{BROADCAST}" = ["delivery.p99 < 0.001ms", "delivery.p99 < baseline + 10s"]
"http:PATCH /api/memories/{{id}}" = ["delivery.p50 < 1s"]"""


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "liminal_tui", *args], capture_output=True, text=True,
                          timeout=timeout)


def write_profile(folder: Path, rules: str, name: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(PROFILE.format(rules=rules) + WRITE_AND_WATCH)
    return path


class Runs:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.reports = tmp / "reports"
        self.codes: dict[str, int] = {}
        self.summaries: dict[str, dict] = {}
        self.folders: dict[str, Path] = {}

    def run(self, label: str, rules: str, *extra: str) -> None:
        proc = cli("--run", str(write_profile(self.tmp, rules, label)), "--workers", "0", "--report-dir",
                   str(self.reports), "--json", "-q", *extra)
        assert proc.stdout.startswith("{"), proc.stderr
        self.codes[label], self.summaries[label] = proc.returncode, json.loads(proc.stdout)
        self.folders[label] = Path(self.summaries[label]["report_dir"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    runs = Runs(tmp_path_factory.mktemp("timings"))
    runs.run("pass", PASSING)
    runs.run("fail", FAILING, "--baseline", str(runs.folders["pass"]))
    return runs


def _verdicts(summary: dict) -> dict[tuple[str, str], dict]:
    return {(v["selector"], v["rule"]): v for v in summary["thresholds"]["verdicts"]}


def _row(summary: dict, name: str) -> dict:
    return next(e for e in summary["endpoints"] if e["name"] == name)


def test_a_delivery_threshold_passes_and_one_fails_the_run(runs: Runs) -> None:
    passed, failed = runs.summaries["pass"], runs.summaries["fail"]
    assert runs.codes["pass"] == 0 and passed["thresholds"]["passed"] is True
    delivery = _row(passed, "broadcast memory.updated")["timings_ms"]["delivery"]
    assert delivery["count"] > 20  # every user times each broadcast of the run
    verdict = _verdicts(passed)[(BROADCAST, "delivery.p99 < 10s")]
    assert verdict["observed"] == pytest.approx(delivery["percentiles"]["p99"], abs=0.01)
    assert verdict["stat"] == "delivery.p99" and verdict["unit"] == "ms"
    # a kind's rule judges the kind's aggregate: here all HTTP requests' first byte
    ttfb = passed["aggregates"]["http"]["timings_ms"]["ttfb"]
    assert _verdicts(passed)[("http", "ttfb.p95 < 10s")]["observed"] == pytest.approx(ttfb["percentiles"]["p95"], abs=0.01)

    assert runs.codes["fail"] == 1 and failed["thresholds"]["passed"] is False
    verdicts = _verdicts(failed)
    impossible = verdicts[(BROADCAST, "delivery.p99 < 0.001ms")]
    assert not impossible["passed"] and impossible["observed"] > 0.001
    assert impossible["text"].startswith(f"{BROADCAST} delivery.p99 < 0.001ms: FAIL (")
    # a timing the endpoint never has: no data, and the rule fails, as every rule without data does
    none = verdicts[("http:PATCH /api/memories/{id}", "delivery.p50 < 1s")]
    assert not none["passed"] and none["observed"] is None
    assert none["text"].endswith("FAIL (no data: no delivery samples)")
    # relative to the baseline's own delivery p99, read from its summary.json
    relative = verdicts[(BROADCAST, "delivery.p99 < baseline + 10s")]
    assert relative["passed"] and relative["baseline"] == delivery["percentiles"]["p99"]
    assert relative["limit"] == pytest.approx(delivery["percentiles"]["p99"] + 10_000)


def test_timings_csv_has_a_row_per_timing_with_samples(runs: Runs) -> None:
    summary = runs.summaries["pass"]
    with open(runs.folders["pass"] / "timings.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Type", "Name", "Timing", "Count", "50% (ms)", "90% (ms)", "99% (ms)", "Max (ms)"]
    by_key = {(r[1], r[2]): r for r in rows[1:]}
    expected = {(e["name"], t): rec for e in [*summary["endpoints"], summary["aggregates"]["all"]]
                for t, rec in (e.get("timings_ms") or {}).items() if rec is not None}
    assert set(by_key) == set(expected)  # every timing with samples, and only those
    assert ("broadcast memory.updated", "delivery") in by_key and ("PATCH /api/memories/{id}", "ttfb") in by_key
    assert ("PATCH /api/memories/{id}", "delivery") not in by_key
    for key, rec in expected.items():
        row = by_key[key]
        assert int(row[3]) == rec["count"] > 0
        assert [float(v) for v in row[4:]] == [rec["percentiles"]["p50"], rec["percentiles"]["p90"],
                                               rec["percentiles"]["p99"], rec["max"]]
    assert by_key[("broadcast memory.updated", "delivery")][0] == "WSMSG"
    assert by_key[("PATCH /api/memories/{id}", "ttfb")][0] == "PATCH"
    assert rows[-1][:2] == ["", "Aggregated"]


def _compare(old: Path, new: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = cli("--compare", str(old), str(new), *extra)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_compare_shows_the_timings_both_runs_have(runs: Runs, tmp_path: Path) -> None:
    old, new = runs.folders["pass"], runs.folders["fail"]
    data = json.loads(_compare(old, new, "--json").stdout)
    broadcast = next(e for e in data["endpoints"] if e["name"] == "broadcast memory.updated")
    for metric in ("delivery.p50", "delivery.p99"):
        m = broadcast["metrics"][metric]
        assert m["verdict"] == "not judged" and m["noise"] is None
        stat = metric.split(".")[1]
        for run, side in (("pass", "old"), ("fail", "new")):
            delivery = _row(runs.summaries[run], "broadcast memory.updated")["timings_ms"]["delivery"]
            assert m[side] == delivery["percentiles"][stat]
    assert "ttfb.p50" not in broadcast["metrics"]
    patch = next(e for e in data["endpoints"] if e["name"] == "PATCH /api/memories/{id}")
    assert {"ttfb.p50", "ttfb.p99"} <= set(patch["metrics"]) and "delivery.p99" not in patch["metrics"]

    text = _compare(old, new).stdout
    block = text.split("broadcast memory.updated:")[1].split("\n\n")[0]
    assert "delivery p50 ms" in block and "delivery p99 ms" in block and "not judged" in block

    # a run without the delivery timing (an older report, say): no delivery rows, nothing breaks
    bare = tmp_path / new.name
    shutil.copytree(new, bare)
    summary = json.loads((bare / "summary.json").read_text())
    for e in summary["endpoints"]:
        (e.get("timings_ms") or {}).pop("delivery", None)
    (bare / "summary.json").write_text(json.dumps(summary))
    data = json.loads(_compare(old, bare, "--json").stdout)
    broadcast = next(e for e in data["endpoints"] if e["name"] == "broadcast memory.updated")
    assert not any(k.startswith("delivery.") for k in broadcast["metrics"])
    assert broadcast["metrics"]["p99"]["verdict"] in ("better", "worse", "same")


def test_validate_refuses_an_unknown_timing(tmp_path: Path) -> None:
    for rule, expected in [
        ("deliver.p99 < 20ms", "unknown timing 'deliver' (a timing is one of connect, tls, ttfb, delivery); "
                               "did you mean 'delivery'?"),
        ("ttfb.rps > 1", "a timing takes a latency statistic"),
    ]:
        path = write_profile(tmp_path, f'"{BROADCAST}" = ["{rule}"]', "bad")
        proc = cli("--validate", str(path))
        assert proc.returncode == 2, proc.stderr
        assert str(path) in proc.stderr and f'thresholds.{BROADCAST}' in proc.stderr, proc.stderr
        assert expected in proc.stderr and "Traceback" not in proc.stderr
    good = write_profile(tmp_path, PASSING + '\n"http:PATCH /api/memories/{id}" = ["p99.9 < 1s"]', "good")
    proc = cli("--validate", str(good))
    assert proc.returncode == 0, proc.stderr  # p99.9 is a percentile, not a timing
