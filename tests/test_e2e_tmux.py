"""End to end in a real terminal: tmux runs `liminal-tui`, keys are typed, the screen is read back."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

ROOT = Path(__file__).resolve().parent.parent


class Terminal:
    def __init__(self, cwd: Path, width: int = 120, height: int = 40, exit_code_file: Path | None = None) -> None:
        self.name = f"liminal-{uuid.uuid4().hex[:8]}"
        # COLUMNS/LINES (set under pytest) would override the pane's real size in Textual
        command = f"env -u COLUMNS -u LINES {sys.executable} -m liminal_tui"
        if exit_code_file is not None:  # a shell in the pane writes down how the app exited
            command = f"sh -c '{command}; echo $? > {exit_code_file}'"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                        "-c", str(cwd), command], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen()}")

    def run_profile(self, path: str) -> None:
        """On the Profiles screen: down the list until the preview shows ``path`` (bounded), then r and enter."""
        self.wait_for("Profiles")
        for _ in range(12):
            if path in self.screen():
                break
            self.keys("Down")
            time.sleep(0.2)
        self.wait_for(path)
        self.keys("r")
        self.wait_for("Start a run of")  # the start dialog, prefilled from the profile
        self.keys("Enter")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_pick_run_watch_and_find_the_report(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    smoke = (ROOT / "profiles" / "smoke.toml").read_text()
    (tmp_path / "profiles" / "quick.toml").write_text(
        smoke.replace('name = "smoke"', 'name = "quick"').replace('duration = "1m"', 'duration = "10s"'))
    term = Terminal(tmp_path)
    try:
        term.run_profile("profiles/quick.toml")
        screen = term.wait_for("elapsed", timeout=20)
        assert "quick" in screen
        term.wait_for("POST /api/memories", timeout=20)  # the endpoint table fills with live numbers
        screen = term.wait_for("Report", timeout=40)  # the run ends by itself: summary screen
        assert "PASS" in screen
        reports = list((tmp_path / "reports").iterdir())
        assert len(reports) == 1 and (reports[0] / "report.html").exists()
        assert reports[0].name in screen
        term.keys("q")
        deadline = time.monotonic() + 10
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not term.alive(), term.screen()
    finally:
        term.close()


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    import psutil

    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    return alive


@pytest.mark.parametrize("how", ["terminal closed (SIGHUP)", "SIGTERM"])
def test_a_run_ended_by_a_signal_still_writes_its_report(tmp_path: Path, how: str) -> None:
    """Over SSH the session can drop mid-run: the terminal goes (SIGHUP) or the process is told to end
    (SIGTERM). Either way the run stops, its report is written whole, and nothing is left running."""
    import json
    import os
    import signal

    import psutil

    from liminal_tui.report import FILES

    (tmp_path / "profiles").mkdir()
    smoke = (ROOT / "profiles" / "smoke.toml").read_text()
    (tmp_path / "profiles" / "long.toml").write_text(smoke.replace('name = "smoke"', 'name = "long"'))
    exit_code = tmp_path / "exit-code"
    term = Terminal(tmp_path, exit_code_file=exit_code)
    try:
        term.run_profile("profiles/long.toml")
        term.wait_for("POST /api/memories", timeout=30)  # load is running
        pane = subprocess.run(["tmux", "display-message", "-p", "-t", term.name, "#{pane_pid}"],
                              capture_output=True, text=True).stdout.strip()
        shell = psutil.Process(int(pane))
        app = next(c for c in shell.children() if "liminal_tui" in " ".join(c.cmdline()))
        family = [shell.pid, app.pid, *(c.pid for c in app.children(recursive=True))]
        assert len(family) >= 4, "the shell, the app, its worker and the demo target"
        if how == "SIGTERM":
            os.kill(app.pid, signal.SIGTERM)
        else:
            term.close()
        assert _wait_gone(family, 30) == [], "processes left running"
        if how == "SIGTERM":
            assert exit_code.read_text().strip() == "130"
    finally:
        term.close()
    (report,) = (tmp_path / "reports").iterdir()
    assert sorted(p.name for p in report.iterdir()) == sorted(FILES)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["stop_reason"] == f"interrupted ({'SIGHUP' if 'SIGHUP' in how else 'SIGTERM'})"
    assert sum(e["requests"] for e in summary["endpoints"] if e["kind"] == "http") > 0
