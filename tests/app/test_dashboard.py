"""The dashboard fed with Aggregator-built snapshots: figures reach the widgets, live keys reach the run."""

from __future__ import annotations


import pytest
from fakes import FakeRun, build_snapshots, plain, until

from liminal_tui.app import create_app
from liminal_tui.app.feed import SnapshotArrived
from liminal_tui.app.screens import ChoiceDialog, DashboardScreen, ProfilesScreen, SummaryScreen
from liminal_tui.app.screens.dashboard import next_load
from liminal_tui.profile import load_profile, shipped_profiles
from liminal_tui.widgets import (
    ConnectionCounters,
    EndpointTable,
    EventLog,
    FailureTable,
    GeneratorHealth,
    PercentilePanel,
    RunHeader,
)
from liminal_tui.widgets.units import ms


def smoke():
    return load_profile(shipped_profiles()["smoke"])


async def start(pilot, run: FakeRun) -> DashboardScreen:
    pilot.app.frame_interval = 0.0
    pilot.app.start_run(smoke())
    await run.started.wait()
    await pilot.pause()
    assert isinstance(pilot.app.screen, DashboardScreen)
    return pilot.app.screen


async def feed(pilot, run: FakeRun, upto: int) -> None:
    for i in range(upto):
        run.publish(i)
    await until(pilot, lambda: getattr(pilot.app.screen, "last", None) is run.snapshots[upto - 1])


async def test_numbers_reach_the_widgets():
    snaps = build_snapshots(6, saturated_at=5)
    run = FakeRun(snaps)
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, run)
        await feed(pilot, run, 5)
        last = snaps[4]
        assert screen.last is last
        http = last.find("http")
        latency = plain(screen.query_one(PercentilePanel).content)
        assert ms(http.latency.p99) in latency and ms(http.latency.max) in latency
        assert ms(last.find("http", total=False).latency.p50) in latency
        counters = plain(screen.query_one(ConnectionCounters).content)
        assert "10 open" in counters and f"{last.ws.messages_in} total" in counters
        assert "heartbeat RTT" in counters and ms(last.find("ws_ping", total=False).latency.p99) in counters
        table = screen.query_one(EndpointTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert str(rows[0][1]) == "GET /api/memories/{id}"  # most requests first
        # The dashboard's one aggregate row adds up HTTP only, and says so (the CSV's adds up every kind).
        assert str(rows[-1][1]) == "Aggregated (HTTP)" and str(rows[-1][2]) == f"{http.total:,}"
        assert sum(1 for r in rows if str(r[1]).startswith("Aggregated")) == 1
        assert screen.query_one(PercentilePanel).border_title == "Latency, HTTP"
        assert screen.query_one("#trends").border_title == "Trends, HTTP"
        await pilot.press("o")  # sort by failures
        assert str(table.get_row_at(0)[1]) == "PATCH /api/memories/{id}"
        failures = screen.query_one(FailureTable)
        assert str(failures.get_row_at(0)[1]) == "HTTP 503"
        health = screen.query_one(GeneratorHealth)
        assert health.has_class("-saturated") and "saturated" in plain(health.content)
        log = "\n".join(screen.query_one(EventLog).lines)
        assert "phase: ramping" in log and "phase: steady" in log and "ws reconnects: 1" in log
        header = screen.query_one(RunHeader)
        assert str(header.query_one("#run-load").content) == "users 10 active / 10 users target"
        assert str(header.query_one("#run-time").content) == "5s elapsed · 55s left"


async def test_live_keys_then_summary(tmp_path):
    run = FakeRun(build_snapshots(6), report_dir=tmp_path / "report")
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot, run)
        await feed(pilot, run, 3)
        await pilot.press("plus", "plus", "minus", "right_square_bracket")
        assert run.loads == [11.0, 12.0, 11.0, 12.0]
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert run.stopped
        summary = app.screen
        assert isinstance(summary, SummaryScreen)
        assert str(tmp_path / "report") in plain(summary.query_one("#summary-report").content)
        verdicts = plain(summary.query_one("#summary-verdicts").content)
        assert "http p99 < 500ms" in verdicts and ("PASS" in verdicts or "FAIL" in verdicts)
        title = str(summary.query_one("#summary-title").content)
        assert "STOPPED (thresholds judged over what ran" in title and "PASSED" not in title
        assert summary.query_one("#summary-title").has_class("-stopped")
        # What the headless summary has: every endpoint with each kind's (labelled) aggregate, every failure.
        table = summary.query_one("#summary-endpoints", EndpointTable)
        await until(pilot, lambda: table.row_count > 0)  # the table fills itself as it mounts
        names = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert "PATCH /api/memories/{id}" in names and "broadcast memory.updated" in names
        assert names[-4:] == ["Aggregated (HTTP)", "Aggregated (WS connect)", "Aggregated (heartbeat)",
                              "Aggregated (WS message)"]
        failures = summary.query_one("#summary-failures", FailureTable)
        assert {str(failures.get_row_at(i)[1]) for i in range(failures.row_count)} == {"HTTP 503", "timeout"}
        assert app.active_run is None
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ProfilesScreen)


async def test_abort_asks_first():
    run = FakeRun(build_snapshots(4))
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot, run)
        await feed(pilot, run, 2)
        await pilot.press("ctrl+x")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("n")
        await pilot.pause()
        assert not run.aborted
        await pilot.press("ctrl+x")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        assert run.aborted
        title = str(app.screen.query_one("#summary-title").content)
        assert title.endswith(": ABORTED (thresholds judged over what ran: 3 of 3 passed)")


async def test_quit_during_a_run_asks_and_ends_the_run():
    run = FakeRun(build_snapshots(4))
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot, run)
        await feed(pilot, run, 2)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: run.aborted)
    assert app.return_code == 0


async def test_start_failure_is_shown():
    run = FakeRun(build_snapshots(2), fail="cannot reach http://127.0.0.1:9: connection refused")
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        app.start_run(smoke())
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.is_mounted
                    and app.screen.phase == "failed")
        screen = app.screen
        assert "connection refused" in "\n".join(screen.query_one(EventLog).lines)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ProfilesScreen)


def test_snapshot_messages_replace_stale_ones():
    a, b, final = build_snapshots(3)
    assert SnapshotArrived(b).can_replace(SnapshotArrived(a))
    assert not SnapshotArrived(b).can_replace(SnapshotArrived(final))


@pytest.mark.parametrize(
    ("model", "current", "step", "expected"),
    [("closed", 10, "+10%", 11), ("closed", 100, "+10%", 110), ("closed", 100, "-10%", 90),
     ("closed", 1, "-10%", 1), ("closed", 5, "+1", 6), ("open", 50.0, "-10%", 45.0), ("open", 0.5, "-1", 0.1)],
)
def test_next_load(model, current, step, expected):
    assert next_load(model, current, step) == expected


async def test_failures_say_none_until_the_first_failure():
    snaps = build_snapshots(3)
    assert not snaps[0].errors and snaps[1].errors
    run = FakeRun(snaps)
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start(pilot, run)
        await feed(pilot, run, 1)
        failures = screen.query_one(FailureTable)
        assert failures.row_count == 1 and str(failures.get_row_at(0)[1]) == "none"
        run.publish(1)
        await until(pilot, lambda: screen.last is snaps[1])
        assert str(failures.get_row_at(0)[1]) == "HTTP 503" and failures.border_title == "Failures (1)"


async def test_long_endpoint_names_keep_their_tail_at_80_columns():
    """At 80x24 a cut name loses its middle: ``GET /a…ories/{id}`` still tells GET /x/{id} from GET /x."""
    run = FakeRun(build_snapshots(3))
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start(pilot, run)
        await feed(pilot, run, 2)
        table = screen.query_one(EndpointTable)
        lines = [table._layout_row(i).text for i in range(table.row_count)]
        names = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        patch = lines[names.index("PATCH /api/memories/{id}")]
        assert "…" in patch and "/{id}" in patch and "PATCH" in patch, lines
        assert lines[names.index("GET /api/memories")].split()[1:3] != patch.split()[1:3]


def test_the_session_and_the_stand_in_speak_one_protocol(tmp_path):
    """The app drives a LiveRun only: the real Session and the tests' stand-in both implement it."""
    from liminal_tui.live import LiveRun
    from liminal_tui.session import Session

    assert isinstance(Session(smoke(), workers=0, report_base=None), LiveRun)
    assert isinstance(FakeRun(build_snapshots(2)), LiveRun)


def _hosts_snapshots() -> list:
    """Aggregator-built snapshots whose workers are cluster hosts, labelled as the cluster pool labels them."""
    from dataclasses import replace

    from liminal_tui.metrics.snapshot import WorkerHealth

    hosts = (
        WorkerHealth(0, 97.0, 3.1, 2.0, 90.0, host="node-a", clock_offset_ms=1.25, requests=300),
        WorkerHealth(1, 22.0, 62.0, 70.0, 80.0, host="b" * 70, clock_offset_ms=-0.4, requests=100),
    )
    return [replace(s, health=hosts) for s in build_snapshots(3)]


async def _generator_panel(snaps, width: int = 120, upto: int = 2) -> tuple[list[str], int, bool, str]:
    """Drive the dashboard with ``snaps`` (up to ``upto``); the Generator panel's lines, its width, whether
    it carries ``-saturated``, and its title."""
    run = FakeRun(snaps)
    app = create_app(profile_dirs=[], run_factory=lambda p: run)
    async with app.run_test(size=(width, 40)) as pilot:
        screen = await start(pilot, run)
        await feed(pilot, run, upto)
        health = screen.query_one(GeneratorHealth)
        lines = plain(health.content_for(health.size.width), width).splitlines()
        return lines, health.size.width, health.has_class("-saturated"), str(health.border_title)


@pytest.mark.parametrize("width", [80, 120])
async def test_the_generator_panel_lists_each_host(width):
    lines, panel_width, saturated, _ = await _generator_panel(_hosts_snapshots(), width)
    assert "worker" not in "\n".join(lines)
    assert "generator saturated" in lines[0]  # the warning comes first (one line or two)
    first = next(i for i, line in enumerate(lines) if line.startswith("0 "))
    host_a, figures_a, host_b, figures_b = lines[first:first + 4]
    assert host_a.startswith("0 node-a") and "cpu 97 %" in host_a and "lag 3.10 ms" in host_a
    assert "saturated" in figures_a and "share 75 %" in figures_a and "clock +1.25 ms" in figures_a
    # A long host name gives way (with an ellipsis) to the figures, which stay whole.
    assert host_b.startswith("1 bbbb") and "…" in host_b and host_b.rstrip().endswith("lag 62.0 ms")
    assert "cpu 22 %" in host_b and "saturated" in figures_b  # its loop lag saturates it
    assert "share 25 %" in figures_b and figures_b.rstrip().endswith("clock -0.40 ms")
    assert all(len(line.rstrip()) <= panel_width for line in lines)
    assert saturated


async def test_a_stopping_worker_is_shown_as_such_and_not_as_saturated():
    """A worker's last report (its stop: closing 5,000 connections lags its loop ~0.5 s) can land in a tick
    before the run's last: its figures are shown, labelled, and do not raise the saturation warning."""
    from dataclasses import replace

    from liminal_tui.metrics.snapshot import WorkerHealth

    workers = (WorkerHealth(0, 3.0, 0.9, 0.9, 90.0), WorkerHealth(1, 62.0, 535.3, 535.3, 91.0, stopping=True))
    lines, _, saturated, title = await _generator_panel([replace(s, health=workers) for s in build_snapshots(3, final=False)])
    assert "worker 1 stopping" in lines[0]  # said first, as the saturation warning would be
    assert "worker 0" not in lines[0]
    (figures,) = [line for line in lines[1:] if line.startswith("worker 1")]
    assert "lag 535 ms" in figures and "cpu 62 %" in figures  # its figures, shown
    assert not saturated and "saturated" not in "\n".join(lines).lower()
    assert title == "Generator"

    hosts = (WorkerHealth(0, 3.0, 0.9, 0.9, 90.0, host="node-a", requests=10),
             WorkerHealth(1, 62.0, 535.3, 535.3, 91.0, host="node-b", requests=10, stopping=True))
    lines, _, saturated, _ = await _generator_panel([replace(s, health=hosts) for s in build_snapshots(3, final=False)])
    assert "host 1 (node-b) stopping" in lines[0]  # a cluster's host: its state line says so too
    first = next(i for i, line in enumerate(lines) if line.startswith("1 node-b"))
    assert lines[first + 1].startswith("stopping") and not saturated


async def test_a_summary_that_arrives_as_the_app_quits_does_not_crash_it(tmp_path):
    """The run can end just as the user quits: Textual then skips mounting the new screen's children."""
    snaps = build_snapshots(3)
    app = create_app(profile_dirs=[], run_factory=lambda p: FakeRun(snaps))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(SummaryScreen(smoke(), snaps[-1], [], None))
        app.exit()
    assert app.return_code in (0, None)  # run_test re-raises what a handler raised
