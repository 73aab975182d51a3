"""``--cluster``: runs spread over the workers of a real Dask cluster (LocalCluster on 127.0.0.1).

The hosts are Dask worker processes on this machine; each runs an agent (a Dask actor) that runs the
local engine in its own worker process. Counts are checked against what the test server saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from liminal_tui.cluster import ClusterError, VERSION_ENV, parse_cluster
from liminal_tui.cluster.agent import HostMerger
from liminal_tui.cluster.merge import merge_reports
from liminal_tui.engine.messages import Done, Failed, IntervalReport
from liminal_tui.metrics.events import EventKind, StopCause
from liminal_tui.metrics.recorder import Recorder
from liminal_tui.metrics.snapshot import WorkerHealth
from runs import HEADER, make_profile

pytestmark = pytest.mark.timeout(90)
slow = pytest.mark.slow


def _get(path: str, users: int, extra: str = "") -> str:
    return f"""{extra}
[load]
users = {users}
spawn_rate = 1000
[[scenarios]]
name = "get"
[[scenarios.steps]]
type = "http"
path = "{path}"
"""


def _local_cluster(n: int, **kwargs):  # type: ignore[no-untyped-def]
    from distributed import LocalCluster

    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                        asynchronous=True, silence_logs=logging.ERROR, **kwargs)


def _session(profile, address: str, tmp_path: Path | None = None, tick: float = 0.25):  # type: ignore[no-untyped-def]
    from liminal_tui.session import Session

    session = Session(profile, workers=1, tick=tick, report_base=tmp_path, cluster=parse_cluster(address))
    session.prepare()
    return session


async def _until(condition, limit: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- without a cluster (fast)


def test_cluster_addresses_parse_or_say_what_was_expected():
    assert parse_cluster("local:3").local_workers == 3
    assert parse_cluster("tcp://10.0.0.5:8786").scheduler == "tcp://10.0.0.5:8786"
    for bad in ("local:0", "local:x", "10.0.0.5:8786", "tcp://head"):
        with pytest.raises(ValueError, match="local:N"):
            parse_cluster(bad)


def _report(worker: int, tick: int, values: list[int], final: bool = False, t_end: float | None = None) -> IntervalReport:
    rec = Recorder()
    ep = rec.endpoint("http", "GET /x", "GET")
    for us in values:
        ep.success(us * 1000, 100)
    return IntervalReport(worker=worker, tick=tick, t_start=tick - 1.0, t_end=float(tick) if t_end is None else t_end,
                          endpoints=rec.drain(), users=2, target=2.0, iterations=len(values), dropped=0,
                          http_connections=1, ws_open=0, ws_connects=0, ws_reconnects=0, ws_drops=0,
                          ws_messages_in=0, ws_messages_out=0, health=WorkerHealth(worker, 30.0 + worker, 1.0, 1.0, 50.0),
                          final=final)


def test_a_hosts_reports_merge_exactly():
    from hdrh.histogram import HdrHistogram

    merged = merge_reports(7, [_report(0, 3, [100, 200]), _report(1, 3, [300, 400, 50_000])], t_start=2.0)
    (ep,) = merged.endpoints
    assert (merged.worker, merged.tick, merged.t_start, merged.t_end) == (7, 3, 2.0, 3.0)
    assert ep.count == 5 and merged.users == 4 and merged.iterations == 5
    hist = HdrHistogram.decode(ep.hist)
    assert hist.get_total_count() == 5 and hist.get_max_value() == pytest.approx(50_000, rel=1e-3)
    assert merged.health.worker == 7 and merged.health.cpu_percent == 31.0 and merged.health.rss_mb == 100.0


def test_the_merger_waits_for_every_process_then_says_done():
    out: list = []
    merger = HostMerger(4, [0, 1], out.append)
    merger.on_event(_report(0, 1, [100]))
    merger.on_event(_report(0, 2, [100]))
    assert out == []  # process 1 has not sent tick 1 yet
    merger.on_event(_report(1, 1, [100]))
    assert [(r.tick, r.endpoints[0].count) for r in out] == [(1, 2)]
    merger.on_event(_report(1, 2, [100], final=True, t_end=1.5))
    merger.on_event(Done(1))
    merger.on_event(_report(0, 3, [100], final=True, t_end=2.5))
    merger.on_event(Done(0))
    ticks = [e for e in out if isinstance(e, IntervalReport)]
    assert [r.tick for r in ticks] == [1, 2, 3] and [r.final for r in ticks] == [False, False, True]
    assert all(b.t_start == a.t_end for a, b in zip(ticks, ticks[1:]))
    assert isinstance(out[-1], Done) and out[-1].worker == 4 and not any(isinstance(e, Failed) for e in out)


def test_dask_is_not_imported_without_cluster_and_its_absence_is_explained():
    code = f"""
import sys
from liminal_tui.cli import main
from liminal_tui.session import Session
from liminal_tui.profile import parse_profile
Session(parse_profile('''{HEADER.format(name="t", target="http://127.0.0.1:1", duration="1s")}''' + '''{_get("/ok", 1)}''', source="t"), workers=0, report_base=None)
assert main(["--validate", "smoke"]) == 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))
assert not loaded, loaded
sys.modules["distributed"] = None  # as if the extra were not installed
sys.exit(main(["--run", "smoke", "--cluster", "local:2"]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'liminal-tui[cluster]'" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- on a real cluster


@slow
async def test_set_load_reaches_every_host_and_counts_equal_the_servers(test_server, dask_cluster, tmp_path):
    path = "/delay/20"
    session = _session(make_profile(test_server.url, _get(path, users=2), duration="3s"),
                       dask_cluster.scheduler_address, tmp_path)
    snaps: list = []
    session.bus.add_callback(snaps.append)
    await session.start()
    await _until(lambda: session.run.elapsed >= 1.2)
    changed_at = session.run.elapsed
    session.set_load(6)
    outcome = await asyncio.wait_for(session.finish(), 30)
    before = [s for s in snaps if not s.final and 0.5 < s.elapsed < changed_at]
    after = [s for s in snaps if not s.final and changed_at + 2 * 0.25 + 0.2 < s.elapsed < 2.9]
    assert before and after
    assert all(s.users == 2 for s in before) and all(s.users == 6 for s in after)  # 3 on each host, within a tick
    rps = lambda s: s.find("http", f"GET {path}", total=False).rps  # noqa: E731
    assert min(rps(s) for s in after) > 2 * max(rps(s) for s in before)
    ep = outcome.final.find("http", f"GET {path}")
    assert ep.count == test_server.state.counts[path] and ep.failures == 0
    assert [h.worker for h in outcome.final.health] == [0, 1]
    summary = json.loads((outcome.report_dir / "summary.json").read_text())
    hosts = summary["hosts"]
    assert len(hosts) == 2 and sum(h["requests"] for h in hosts) == ep.count
    assert all(0.3 < h["rps_share"] < 0.7 for h in hosts) and sum(h["rps_share"] for h in hosts) == pytest.approx(1, abs=0.01)
    # The dashboard's Generator panel reads each host from the snapshot: its name, clock offset, requests.
    for health, host in zip(outcome.final.health, hosts):
        assert health.host == host["host"] and health.requests == host["requests"]
        assert health.clock_offset_ms == pytest.approx(host["clock_offset_ms"], abs=0.001)  # one measurement each
    assert summary["clock"]["measurements"] >= 2 and abs(summary["clock"]["worst_offset_ms"]) < 50
    assert summary["settings"]["cluster"] == dask_cluster.scheduler_address and summary["settings"]["workers"] == 2
    html = (outcome.report_dir / "report.html").read_text()
    assert "<h3>Hosts</h3>" in html and all(h["address"] in html for h in hosts)


@slow
async def test_clock_offsets_are_measured_again_during_the_run(test_server, dask_cluster):
    from liminal_tui.cluster.pool import ClusterPool
    from liminal_tui.engine.run import Run

    pool = ClusterPool(parse_cluster(dask_cluster.scheduler_address), clock_every=0.2)
    profile = make_profile(test_server.url, _get("/ok", users=1), duration="1.2s")
    run = Run(profile, workers=await pool.connect(test_server.url), tick=0.25, pool=pool)
    assert all(len(h.offsets_ms) == 1 for h in pool.hosts)  # at start
    await run.start()
    await asyncio.wait_for(run.wait(), 20)
    assert all(len(h.offsets_ms) >= 4 for h in pool.hosts)
    section = pool.summary()
    assert section["clock"]["measurements"] == sum(len(h.offsets_ms) for h in pool.hosts)
    assert abs(section["clock"]["worst_offset_ms"]) < 50  # one machine: the same clock, give or take the round trip


@slow
async def test_a_killed_host_is_reported_its_replacement_gets_no_load_and_the_run_goes_on(test_server, tmp_path):
    from distributed import Client

    async with _local_cluster(3) as cluster:
        client = await Client(cluster, asynchronous=True, set_as_default=False)  # not the run's client
        session = _session(make_profile(test_server.url, _get("/delay/10", users=3), duration="3.5s"),
                           cluster.scheduler_address, tmp_path)
        await session.start()
        victim = session.cluster.hosts[1]
        await _until(lambda: session.run.elapsed >= 0.6)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = session.run.elapsed
        before = {h.address for h in session.cluster.hosts}
        deadline = time.monotonic() + 15
        while not set((await client.scheduler.identity())["workers"]) - before:  # the nanny's replacement
            assert time.monotonic() < deadline, "no replacement worker joined"
            await asyncio.sleep(0.05)
        outcome = await asyncio.wait_for(session.finish(), 30)
        assert outcome.final.stop_reason.cause == StopCause.COMPLETED
        died = [n for n in session.notes(outcome.final) if "died" in n]
        assert len(died) == 1 and victim.address in died[0] and "load is missing" in died[0]
        assert [h.worker for h in outcome.final.health] == [0, 2]
        summary = json.loads((outcome.report_dir / "summary.json").read_text())
        lost = summary["hosts"][1]
        assert lost["lost_at_s"] == pytest.approx(killed_at, abs=0.5) and "lost" in lost["lost_reason"]
        assert len(summary["cluster_workers_not_used"]) == 1  # the replacement joined, and was given nothing
        assert summary["hosts"][0]["requests"] > 0 and summary["hosts"][2]["requests"] > 0

        # The same, with on_worker_loss = "stop": the run stops.
        session = _session(make_profile(test_server.url, _get("/delay/10", 3, 'on_worker_loss = "stop"'),
                                        duration="20s"), cluster.scheduler_address)
        await session.start()
        await _until(lambda: session.run.elapsed >= 0.8)
        os.kill(session.cluster.hosts[0].pid, signal.SIGKILL)
        outcome = await asyncio.wait_for(session.finish(), 30)
        assert outcome.final.stop_reason.cause == StopCause.WORKER_LOST and outcome.final.elapsed < 5
        await client.close()


@slow
async def test_a_frozen_host_is_lost_within_three_ticks(test_server):
    async with _local_cluster(2) as cluster:
        tick = 0.25
        session = _session(make_profile(test_server.url, _get("/ok", users=2), duration="4s"),
                           cluster.scheduler_address, tick=tick)
        events: list = []
        session.bus.add_callback(lambda s: events.extend(s.events))
        await session.start()
        frozen = session.cluster.hosts[1]
        await _until(lambda: session.run.elapsed >= 1.0)
        os.kill(frozen.pid, signal.SIGSTOP)
        stopped_at = session.run.elapsed
        try:
            outcome = await asyncio.wait_for(session.finish(), 30)
        finally:  # SIGKILL ends a stopped process too; once it has, its nanny may reap it at once
            with contextlib.suppress(ProcessLookupError):
                os.kill(frozen.pid, signal.SIGKILL)
        assert outcome.final.stop_reason.cause == StopCause.COMPLETED
        (died,) = [e for e in events if e.kind == EventKind.WORKER_DIED]
        assert "no report for 3 ticks" in died.text and frozen.address in died.text
        # Its last report came at a tick boundary before the freeze; 3 ticks after it, it is lost (plus the
        # watch's period, a quarter tick, and the event loop's own delay on a busy machine).
        assert 0 < frozen.lost_at - stopped_at <= 3 * tick + tick / 4 + 0.3


@slow
def test_ctrl_c_writes_the_report_with_its_hosts(tmp_path):
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "liminal_tui", "--run", "smoke", "--target", "builtin", "-u", "4", "-r", "1000",
                             "-d", "60s", "--cluster", "local:2", "--report-dir", str(reports)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 40
    for line in proc.stderr:  # wait for every user to run (the phase event), bounded by the deadline
        if "phase: steady" in line or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: to the whole group, local Dask workers too
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 130, err
    (report,) = reports.iterdir()
    summary = json.loads((report / "summary.json").read_text())
    assert "interrupted" in summary["stop_reason"] and len(summary["hosts"]) == 2
    assert sum(h["requests"] for h in summary["hosts"]) > 0 and all(h["lost_at_s"] is None for h in summary["hosts"])
    generator = next(line for line in out.splitlines() if line.startswith("Generator (worst tick)"))
    assert "host 0 (" in generator and "host 1 (" in generator and "worker" not in generator  # hosts by name


@slow
async def test_a_version_mismatch_names_the_host_and_exits_2(test_server, tmp_path):
    from distributed import Nanny

    async with _local_cluster(1) as cluster, Nanny(cluster.scheduler_address, nthreads=1, host="127.0.0.1",
                                                   env={VERSION_ENV: "9.9.9"}, silence_logs=logging.ERROR) as odd:
        profile = tmp_path / "p.toml"
        profile.write_text(HEADER.format(name="p", target=test_server.url, duration="2s") + _get("/ok", users=1))
        proc = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "liminal_tui", "--run", str(profile), "--no-report",
                             "--cluster", cluster.scheduler_address], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert "versions differ" in proc.stderr and odd.worker_address in proc.stderr and "9.9.9" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert test_server.state.total == 0


UNREACHABLE_PRELOAD = """
import socket

if not hasattr(socket.getaddrinfo, "real"):  # Dask may run a preload more than once in a process
    def getaddrinfo(host, port, *args, **kwargs):
        if port == {port}:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return getaddrinfo.real(host, port, *args, **kwargs)

    getaddrinfo.real = socket.getaddrinfo
    socket.getaddrinfo = getaddrinfo
"""


@slow
async def test_a_target_unreachable_from_one_host_names_it_and_exits_3(test_server, dask_cluster, tmp_path):
    """Two hosts reach the target; a third cannot resolve it, as a load host on a network without a route
    or DNS entry for it (a Dask worker preload: only lookups of the target's port fail there)."""
    from distributed import Nanny

    preload = tmp_path / "cut_off.py"
    preload.write_text(UNREACHABLE_PRELOAD.format(port=test_server.port))
    async with Nanny(dask_cluster.scheduler_address, nthreads=1, host="127.0.0.1", preload=[str(preload)],
                     silence_logs=logging.ERROR) as cut_off:
        address = cut_off.worker_address
        profile = tmp_path / "p.toml"
        profile.write_text(HEADER.format(name="p", target=test_server.url, duration="2s") + _get("/ok", users=1))
        proc = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "liminal_tui", "--run", str(profile), "--no-report",
                             "--cluster", dask_cluster.scheduler_address], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert f"from host {socket.gethostname()} ({address})" in proc.stderr  # that host, and only that one
    assert "cannot resolve host" in proc.stderr and "Traceback" not in proc.stderr
    assert test_server.state.total == 0  # nothing was sent from any host


@slow
async def test_an_unreachable_scheduler_exits_4(closed_port):
    with pytest.raises(ClusterError) as caught:
        from liminal_tui.cluster.pool import ClusterPool

        await ClusterPool(parse_cluster(f"tcp://127.0.0.1:{closed_port}"), connect_timeout=1.0).connect("http://127.0.0.1:1")
    assert caught.value.exit_code == 4 and "scheduler" in str(caught.value)


@slow
async def test_the_app_runs_on_the_cluster_through_the_clis_factory(dask_cluster, demo_server, tmp_path, monkeypatch):
    """``liminal-tui --cluster ...`` (the app): the dashboard drives a run on the cluster, to its report."""
    from liminal_tui.app import create_app
    from liminal_tui.app.screens import SummaryScreen
    from liminal_tui.cli import _cluster_factory
    from liminal_tui.profile import parse_profile

    monkeypatch.chdir(tmp_path)  # the app writes its reports under ./reports
    app = create_app(profile_dirs=[], run_factory=_cluster_factory(parse_cluster(dask_cluster.scheduler_address)))
    profile = parse_profile(HEADER.format(name="app", target=demo_server.url, duration="20s")
                            + _get("/api/memories", users=2), source="app")
    async with app.run_test(size=(120, 40)) as pilot:
        dashboard = app.start_run(profile)

        async def until(condition) -> None:  # type: ignore[no-untyped-def]
            deadline = time.monotonic() + 20
            while not condition():
                assert time.monotonic() < deadline, "condition not met in time"
                await pilot.pause(0.1)

        await until(lambda: dashboard.last is not None and dashboard.last.iterations > 0)
        assert not dashboard.session.in_process and len(dashboard.last.health) == 2  # two hosts
        from liminal_tui.widgets import GeneratorHealth

        panel = dashboard.query_one(GeneratorHealth)
        await until(lambda: "clock " in panel.content.plain)  # the Generator panel lists the hosts
        text = panel.content.plain
        assert "worker 0" not in text and "share " in text
        assert all(any(line.startswith(f"{i} {socket.gethostname()[:8]}") and "cpu " in line for line in text.splitlines()) for i in (0, 1))
        await pilot.press("plus", "plus")  # 2 -> 4 users, 2 on each host
        await until(lambda: dashboard.last.target_load == 4 and dashboard.last.users == 4)
        await pilot.press("s")
        await until(lambda: isinstance(app.screen, SummaryScreen))
        report = app.screen.report
        assert report is not None
        summary = json.loads((report / "summary.json").read_text())
        assert len(summary["hosts"]) == 2 and summary["settings"]["cluster"] == dask_cluster.scheduler_address


@slow
async def test_local_cluster_starts_inside_a_textual_app(test_server):
    """``--cluster local:N`` from the app: Textual replaces sys.stderr, which spawning the Dask workers needs."""
    from textual.app import App

    outcome: list = []
    profile = make_profile(test_server.url, _get("/ok", users=1), duration="1s")

    class Host(App[None]):
        async def on_mount(self) -> None:
            session = _session(profile, "local:1")
            try:
                await session.start()
                outcome.append(await session.finish())
            except Exception as exc:  # recorded, asserted below
                outcome.append(exc)
            self.exit()

    async with Host().run_test() as pilot:
        deadline = time.monotonic() + 40
        while not outcome and time.monotonic() < deadline:
            await pilot.pause(0.1)
    assert outcome and not isinstance(outcome[0], Exception), outcome
    assert outcome[0].final.find("http").total == test_server.state.counts["/ok"] > 0
