"""A target that goes away and comes back, and hostile strings and secrets pushed through a real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from runs import make_profile

pytestmark = pytest.mark.slow  # a real run with processes (the CLI, workers or the demo target)


async def _serve(port: int, counter: list[int]) -> web.AppRunner:
    async def ok(request: web.Request) -> web.Response:
        counter[0] += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ok", ok)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    return runner


async def test_server_restart_during_the_run(closed_port: int) -> None:
    """The target stops and starts again mid-run: failures while it is down, successes after, all counted."""
    from liminal_tui.engine.run import Run

    served = [0]
    runner = await _serve(closed_port, served)
    profile = make_profile(f"http://127.0.0.1:{closed_port}", """
[http.timeouts]
connect = "0.3s"
total = "1s"
[load]
users = 2
spawn_rate = 1000
think_time = "20ms"
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/ok"
""", duration="3s")
    run = Run(profile, workers=0, tick=0.25)
    sub = run.bus.subscribe("every")
    await run.start()
    restarted = False
    async for snap in sub:  # bounded: the run ends at 3 s and the final snapshot ends the iteration
        if snap.elapsed >= 0.8 and runner is not None:
            await runner.cleanup()  # the server goes away...
            runner = None
        elif snap.elapsed >= 1.6 and runner is None and not restarted:
            before_restart = served[0]
            runner = await _serve(closed_port, served)  # ...and comes back on the same port
            restarted = True
    final = await run.wait()
    if runner is not None:
        await runner.cleanup()
    http = final.find("http")
    assert restarted and served[0] > before_restart  # successes after the restart
    assert http.failures > 0 and http.count > 0
    assert http.count == served[0]  # every success the server served is counted, nothing more
    names = {e.error for e in final.errors}
    assert names <= {"connect refused", "server disconnected", "connection reset", "connection error"}, names
    assert str(final.stop_reason) == "completed"


PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def test_hostile_strings_are_escaped_and_secrets_never_written(tmp_path: Path) -> None:
    secret = "s3cr3t-token-VALUE-42"
    profile = tmp_path / "hostile.toml"
    profile.write_text(f'''
name = "hostile"
target = "builtin"
duration = "2s"
description = "{PAYLOAD.replace('"', "'")}"
[http]
headers = {{ Authorization = "Bearer ${{env:LIMINAL_TEST_TOKEN}}", "X-Api-Key" = "${{env:LIMINAL_TEST_TOKEN}}" }}
[load]
users = 2
spawn_rate = 100
[[scenarios]]
name = "evil"
[[scenarios.steps]]
type = "http"
path = "/api/memories/nope"
name = "{PAYLOAD.replace('"', "'")}"
check = {{ status = 200, body_contains = "{PAYLOAD.replace('"', "'")}" }}
''')
    env = {**os.environ, "LIMINAL_TEST_TOKEN": secret}
    proc = subprocess.run([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--report-dir",
                           str(tmp_path / "reports"), "--json"], capture_output=True, text=True, timeout=90, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert secret not in proc.stdout and secret not in proc.stderr
    summary = json.loads(proc.stdout)
    report = Path(summary["report_dir"])
    for file in report.iterdir():
        text = file.read_text()
        assert secret not in text, file.name
    html = (report / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the endpoint name is shown, escaped
    assert summary["endpoints"][0]["failures"] > 0  # 404s were counted under the hostile name


def test_full_disk_is_a_clear_error_and_leaves_no_half_written_file(tmp_path: Path) -> None:
    """A report directory on a 48 KB filesystem: the run's summary still reaches the user, the error
    says what happened, and every file that exists is complete (atomic writes)."""
    import pytest

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        profile = tmp_path / "p.toml"
        profile.write_text('''
name = "full"
target = "builtin"
duration = "2s"
[load]
users = 2
spawn_rate = 100
[[scenarios]]
name = "s"
[[scenarios.steps]]
type = "http"
path = "/api/memories"
''')
        proc = subprocess.run([sys.executable, "-m", "liminal_tui", "--run", str(profile), "--report-dir", str(disk), "-q"],
                              capture_output=True, text=True, timeout=90)
        assert "could not write the report" in proc.stderr and "No space left" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "GET /api/memories" in proc.stdout  # the summary is not lost
        for file in disk.rglob("*"):
            assert not file.name.startswith("."), f"temporary file left behind: {file}"
            if file.suffix == ".json":
                json.loads(file.read_text())  # complete, or not there at all
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
