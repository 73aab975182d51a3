"""Failures that must neither hang a run nor hide: a broken reader, a worker that cannot start."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from liminal_tui.engine.run import Run
from liminal_tui.metrics.events import EventKind
from liminal_tui.session import Session
from runs import make_profile

PROFILE = """
[load]
users = 2
spawn_rate = 100
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/ok"
"""


async def test_a_reader_that_raises_is_dropped_and_reported_and_the_run_ends(test_server):
    run = Run(make_profile(test_server.url, PROFILE, duration="1s"), workers=0, tick=0.2)
    seen = []
    calls = []

    def broken(snapshot) -> None:
        calls.append(snapshot.seq)
        raise ValueError("reader bug")

    run.bus.add_callback(broken)
    run.bus.add_callback(seen.append)
    await run.start()
    final = await asyncio.wait_for(run.wait(), 10)
    assert calls == [1]  # dropped after its first failure
    assert [s.seq for s in seen] == list(range(1, final.seq + 1))  # the other reader missed nothing
    failed = [e for s in seen for e in s.events if e.kind == EventKind.READER_FAILED]
    assert len(failed) == 1 and "ValueError: reader bug" in failed[0].text and failed[0].incident
    assert final.find("http").count == test_server.state.counts["/ok"]


async def test_a_reader_that_fails_on_the_final_snapshot_is_in_the_report_notes(test_server):
    session = Session(make_profile(test_server.url, PROFILE, duration="0.5s"), workers=0, tick=0.2, report_base=None)

    def fails_at_the_end(snapshot) -> None:
        if snapshot.final:
            raise RuntimeError("late")

    session.run.bus.add_callback(fails_at_the_end)
    await session.start()
    outcome = await asyncio.wait_for(session.finish(), 10)
    assert any("fails_at_the_end: RuntimeError: late" in note for note in session.notes(outcome.final))


@pytest.mark.slow
def test_workers_that_cannot_start_are_not_an_unreachable_target(tmp_path: Path) -> None:
    """Worker processes that die at birth: exit 4 and a message about the workers, not exit 3."""
    (tmp_path / "sitecustomize.py").write_text(
        "import os, sys\nif '--multiprocessing-fork' in sys.argv:\n    os._exit(7)\n")
    profile = tmp_path / "p.toml"
    profile.write_text('name = "p"\ntarget = "builtin"\nduration = "2s"\n' + PROFILE.replace('"/ok"', '"/health"'))
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--no-report", "-q"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 4, proc.stderr
    assert "worker processes failed to start: worker 0 exited with code 7" in proc.stderr
    assert "unreachable" not in proc.stderr and "Traceback" not in proc.stderr
