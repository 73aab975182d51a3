"""The real CLI, in a subprocess, against the built-in demo target."""

from __future__ import annotations

import csv
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here runs the CLI in a process of its own

from liminal_tui.report import FILES

PROFILE = """
name = "cli"
target = "builtin"
duration = "3s"

[load]
users = 4
spawn_rate = 50

[thresholds]
http = {rules}

[[scenarios]]
name = "crud"
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/api/memories"
json = {{ content = "cli ${{seq}}" }}
check = {{ status = 201 }}
extract = {{ memory_id = "json:id" }}
[[scenarios.steps]]
type = "http"
path = "/api/memories/${{memory_id}}"
name = "GET /api/memories/{{id}}"
"""


def write_profile(tmp_path: Path, rules: str = '["error_rate < 1%"]', name: str = "cli.toml") -> Path:
    path = tmp_path / name
    path.write_text(PROFILE.format(rules=rules))
    return path


def cli(*args: str, timeout: float = 90, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "liminal_tui", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_passing_run_writes_consistent_report(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    proc = cli("--run", str(profile), "--report-dir", str(tmp_path / "reports"), "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    report = Path(summary["report_dir"])
    assert sorted(p.name for p in report.iterdir() if not p.name.startswith(".")) == sorted(FILES)

    with open(report / "results_stats.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == (
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
        "99.99%,100%,Skipped Count"
    ).split(",")
    assert rows[-1][1] == "Aggregated"
    by_name = {r[1]: r for r in rows[1:]}
    post = by_name["POST /api/memories"]
    get = by_name["GET /api/memories/{id}"]
    assert int(post[2]) > 0 and int(get[2]) > 0
    assert int(rows[-1][2]) == int(post[2]) + int(get[2])
    with open(report / "results_failures.csv", newline="") as fh:
        assert next(csv.reader(fh)) == ["Method", "Name", "Error", "Occurrences"]
    with open(report / "results_stats_history.csv", newline="") as fh:
        history = list(csv.reader(fh))
    assert history[0][:4] == ["Timestamp", "User Count", "Type", "Name"]
    assert len(history) > 2

    on_disk = json.loads((report / "summary.json").read_text())
    assert on_disk["thresholds"]["passed"] is True
    json_by_name = {e["name"]: e for e in on_disk["endpoints"]}
    for name, row in by_name.items():
        if name != "Aggregated":
            assert json_by_name[name]["requests"] == int(row[2])
            assert json_by_name[name]["failures"] == int(row[3])
    assert sum(e["requests"] for e in on_disk["endpoints"] if e["kind"] == "http") == int(rows[-1][2])
    html = (report / "report.html").read_text()
    assert "POST /api/memories" in html and f"{int(post[2]):,}" in html


def test_failed_threshold_exits_1(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, rules='["rps >= 1000000"]')
    proc = cli("--run", str(profile), "--no-report", "-q")
    assert proc.returncode == 1, proc.stderr
    assert "FAIL" in proc.stdout


def test_bad_profile_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nduration = "10x"\n[[scenarios]]\nname = "a"\nsteps = [{type = "http", path = "/"}]\n')
    proc = cli("--run", str(bad))
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "duration" in proc.stderr and "10x" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("--validate", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_threshold_on_unknown_endpoint_is_rejected(tmp_path: Path) -> None:
    profile = tmp_path / "t.toml"
    profile.write_text(PROFILE.format(rules='["p99 < 1s"]').replace(
        "[thresholds]", '[thresholds]\n"http:GET /nowhere" = ["p95 < 300ms"]'))
    proc = cli("--validate", str(profile))
    assert proc.returncode == 2
    assert "GET /nowhere" in proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors_exit_2() -> None:
    assert cli("--run", "smoke", "--users", "-3").returncode == 2
    assert cli("--no-such-flag").returncode == 2
    assert cli("--run", "smoke", "-d", "10x").returncode == 2


def test_unreachable_target_exits_3_before_load(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    port = free_port()
    proc = cli("--run", str(profile), "--target", f"http://127.0.0.1:{port}", "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 3
    assert "unreachable" in proc.stderr and "refused" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not any((tmp_path / "r").glob("*")), "nothing ran: no (empty) report folder is left"


def test_unwritable_report_dir_is_an_error_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = cli("--run", str(write_profile(tmp_path)), "--report-dir", str(blocker / "reports"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_gracefully_and_writes_report(tmp_path: Path, sig: signal.Signals) -> None:
    profile = tmp_path / "long.toml"
    profile.write_text(PROFILE.format(rules='["error_rate < 1%"]').replace('duration = "3s"', 'duration = "60s"'))
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--report-dir", str(reports)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    for line in proc.stderr:  # wait for load to be running (the phase event), bounded by the deadline
        if "phase:" in line or time.monotonic() > deadline:
            break
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    dirs = list(reports.iterdir())
    assert len(dirs) == 1
    summary = json.loads((dirs[0] / "summary.json").read_text())
    assert "interrupted" in json.dumps(summary)
    assert summary["outcome"] == "stopped" and summary["passed"] is False
    assert "Outcome: STOPPED (thresholds judged over what ran" in out and "PASSED" not in out
    assert (dirs[0] / "report.html").exists()


def start_long_run(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], Path]:
    profile = tmp_path / "long.toml"
    profile.write_text(PROFILE.format(rules='["error_rate < 1%"]').replace('duration = "3s"', 'duration = "60s"'))
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--report-dir", str(reports), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    for line in proc.stderr:  # wait for load to be running (the phase event), bounded by the deadline
        if "phase:" in line or time.monotonic() > deadline:
            break
    return proc, reports


def test_second_ctrl_c_aborts_and_still_leaves_consistent_csvs(tmp_path: Path) -> None:
    proc, reports = start_long_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    (report,) = reports.iterdir()
    with open(report / "results_stats.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[-1][1] == "Aggregated"
    assert int(rows[-1][2]) == sum(int(r[2]) for r in rows[1:-1])
    # Two signals sent at once may reach the handler as one: stopped or aborted, never passed.
    assert json.loads((report / "summary.json").read_text())["outcome"] in ("stopped", "aborted")


def test_worker_that_dies_is_reported_and_the_run_carries_on(tmp_path: Path) -> None:
    import psutil

    proc, reports = start_long_run(tmp_path, "--workers", "2")
    children = psutil.Process(proc.pid).children()
    workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
    assert len(workers) == 2
    workers[1].kill()
    seen = []
    deadline = time.monotonic() + 30
    for line in proc.stderr:  # the run says so in its progress lines, within a tick or two
        seen.append(line)
        if "died" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "died" in "".join(seen)
    (report,) = reports.iterdir()
    summary = json.loads((report / "summary.json").read_text())
    assert any("died" in note for note in summary["notes"])
    assert summary["endpoints"] and all(e["requests"] > 0 for e in summary["endpoints"] if e["kind"] == "http")


def test_prometheus_endpoint_answers_during_a_run(tmp_path: Path) -> None:
    port = free_port()
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE.format(rules='["error_rate < 1%"]').replace('duration = "3s"', 'duration = "8s"'))
    proc = subprocess.Popen([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--no-report", "-q",
                             "--prometheus", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    body = ""
    sample = 'liminal_requests_total{kind="http",method="POST",name="POST /api/memories"}'
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sample not in body:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                    body = resp.read().decode()
            except OSError:
                pass
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert sample in body
    assert "liminal_ws_connections" in body
    assert "liminal_ws_messages_timed_at_read_total 0.0" in body  # no WebSocket in this profile: none
    # One series per worker; a cluster run fills the host label with the host's name.
    assert 'liminal_generator_cpu_percent{host="",worker="0"}' in body, body
    assert 'liminal_latency_seconds_bucket{kind="http",le="+Inf",method="POST",name="POST /api/memories"}' in body


def test_engine_and_reports_do_not_import_textual() -> None:
    code = ("import sys, liminal_tui.engine.run, liminal_tui.session, liminal_tui.report, liminal_tui.headless, "
            "liminal_tui.profile, liminal_tui.demo, liminal_tui.exporter, liminal_tui.cli; "
            "assert 'textual' not in sys.modules, 'textual imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("duration,wait_for", [("60s", "phase: ramping")])
def test_interrupt_during_ramp_up_writes_the_report(tmp_path: Path, duration: str, wait_for: str) -> None:
    """Steady state: test_signal_stops_gracefully...; shutdown: the second signal of the double Ctrl-C test."""
    profile = tmp_path / "phases.toml"
    text = PROFILE.format(rules='["error_rate < 1%"]').replace('duration = "3s"', f'duration = "{duration}"')
    profile.write_text(text.replace("spawn_rate = 50", "spawn_rate = 1"))  # 4 users over 4 s: a real ramp
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--report-dir", str(reports)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    seen = False
    for line in proc.stderr:  # bounded by the run's own end and the deadline
        if wait_for in line:
            seen = True
            break
        if time.monotonic() > deadline:
            break
    assert seen, f"never saw {wait_for!r}"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    (report,) = reports.iterdir()
    summary = json.loads((report / "summary.json").read_text())
    assert summary["endpoints"] and (report / "results_stats.csv").exists()


@pytest.mark.parametrize("after_phase", [1.2, 1.8, 1.95, 2.1, 2.25])
def test_signal_as_the_run_ends_on_its_own(tmp_path: Path, after_phase: float) -> None:
    """A SIGTERM around the natural end (the 3-s run ends ~1.8 s after its first phase line): just before,
    while stopping, while the report is written. Whichever it hits: no traceback, exit 0 or 130, one
    complete report whose CSV totals add up."""
    profile = write_profile(tmp_path)
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--report-dir", str(reports)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    for line in proc.stderr:  # bounded by the run's own end and the deadline
        if "phase:" in line or time.monotonic() > deadline:
            break
    seen = time.monotonic()
    time.sleep(max(0.0, seen + after_phase - time.monotonic()))  # aiming at a moment, not waiting for one
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err
    (report,) = reports.iterdir()
    summary = json.loads((report / "summary.json").read_text())
    assert ("interrupted" in json.dumps(summary)) == (proc.returncode == 130)
    with open(report / "results_stats.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[-1][1] == "Aggregated" and int(rows[-1][2]) == sum(int(r[2]) for r in rows[1:-1]) > 0
    assert sorted(p.name for p in report.iterdir()) == sorted(FILES)
