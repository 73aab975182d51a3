"""The live run: header, trends, latency, connections, endpoints, failures, events, generator health.

The screen owns one run from start to final snapshot. Snapshots come from a ``latest`` subscription
through :func:`follow`, so the screen shows the newest state and never queues stale ones.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...metrics.bus import Subscription
from ...metrics.snapshot import Snapshot
from ...live import LiveRun
from ...profile import Profile
from ...widgets import (
    ConnectionCounters,
    EndpointTable,
    EventLog,
    FailureTable,
    GeneratorHealth,
    PercentilePanel,
    RunHeader,
    Trends,
)
from ...widgets.units import load_value
from ..feed import SnapshotArrived, follow
from .dialogs import ChoiceDialog

__all__ = ["DashboardScreen", "next_load"]


def next_load(model: str, current: float, step: str) -> float:
    """The load after ``step`` (``+10%``, ``-10%``, ``+1``, ``-1``); never below 1 user or 0.1 it/s."""
    delta = max(1.0, current * 0.1) if step.endswith("%") else 1.0
    value = current + delta if step.startswith("+") else current - delta
    if model == "closed":
        return float(max(1, round(value)))
    return max(0.1, round(value, 1))


class DashboardScreen(Screen[None]):
    """Drives a :class:`~liminal_tui.live.LiveRun` and shows its snapshots."""

    BINDINGS = [
        Binding("plus,equals_sign", "load('+10%')", "Load +10%", key_display="+", id="dashboard.more",
                tooltip="Raise users (closed) or rate (open) by 10%, at least 1"),
        Binding("minus", "load('-10%')", "Load -10%", key_display="-", id="dashboard.less",
                tooltip="Lower users (closed) or rate (open) by 10%, at least 1"),
        Binding("right_square_bracket", "load('+1')", "+1", key_display="]", show=False, id="dashboard.more_one",
                tooltip="Raise users or rate by exactly 1"),
        Binding("left_square_bracket", "load('-1')", "-1", key_display="[", show=False, id="dashboard.less_one",
                tooltip="Lower users or rate by exactly 1"),
        Binding("s", "stop", "Stop", id="dashboard.stop", tooltip="Stop gracefully: in-flight requests finish, the report is written"),
        Binding("ctrl+x", "abort", "Abort", id="dashboard.abort", tooltip="Stop at once, dropping in-flight requests (asks first)"),
        Binding("o", "sort", "Sort", id="dashboard.sort", tooltip="Sort the endpoint table by the next column"),
        Binding("escape", "back", "Back", id="dashboard.back", tooltip="Back to the profiles (only when no run is active)"),
        Binding("r", "again", "Try again", id="dashboard.again", tooltip="Start the run again (after it could not start)"),
    ]

    phase: reactive[str] = reactive("starting")
    """The run's phase as last seen: ``starting`` (preflight), the snapshot phases, or ``failed``."""
    load_target: reactive[float] = reactive(0.0)
    """Users (closed) or iterations/s (open) the run is asked for, as last set or seen."""

    def __init__(self, profile: Profile, session: LiveRun, min_interval: float = 0.25) -> None:
        super().__init__()
        self.profile = profile
        self.session = session
        """The run and its report (a :class:`~liminal_tui.session.Session`, or a test's stand-in)."""
        self._subscription: Subscription | None = None
        self._forget: Callable[[], None] = lambda: None
        self.min_interval = min_interval
        """Fewest seconds between two screen updates."""
        self.last: Snapshot | None = None
        self.failure: str | None = None
        """Why the run could not start or failed (shown in place of the panels), or None."""
        self.set_reactive(DashboardScreen.load_target, float(profile.load.peak))

    def compose(self) -> ComposeResult:
        p = self.profile
        yield RunHeader(p.name, p.target, float(p.duration or 0.0), p.load.model, id="run-header")
        yield Static(id="dash-failed")  # in place of the panels when the run could not start
        with VerticalScroll(id="dash-body"):
            with Horizontal(id="dash-top", classes="dash-row"):
                yield Trends(id="trends")
                yield PercentilePanel(id="percentiles")
            with Horizontal(classes="dash-row"):
                yield ConnectionCounters(id="counters")
                yield GeneratorHealth(id="health")
            yield EndpointTable(id="endpoints")
            with Horizontal(classes="dash-row"):
                yield FailureTable(id="failures")
                yield EventLog(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.set_class(self.profile.load.model == "open", "-open-model")
        self.query_one("#dash-body").focus()  # arrows and page keys scroll the panels; tab reaches the tables
        bus = self.session.bus
        self._subscription = bus.subscribe("latest")  # before start: no snapshot is missed
        # Frames may be skipped, ticks must not: trends and events take every snapshot at the next frame.
        self._unseen: list[Snapshot] = []
        self._forget = bus.add_callback(self._remember)
        self.drive()

    # ------------------------------------------------------------ the run

    def _failed(self, what: str, exc: BaseException) -> None:
        self.app.active_run = None
        if self._subscription is not None:
            self._subscription.close()
        self.failure = f"{what}: {exc}"
        self.phase = "failed"
        self.query_one(EventLog).note(self.failure)
        self.query_one(RunHeader).set_failed(what)
        started = self.last is not None
        self.query_one("#dash-failed", Static).update(Text.assemble(
            (what.capitalize(), "bold"), "\n\n", str(exc), "\n\n",
            "The report holds what ran." if started else "Nothing ran: no report was written.", "\n",
            "escape: back to the profiles · r: try again",
        ))
        self.set_class(not started, "-not-started")  # the panels would only say "waiting for the first tick"
        self.notify(str(exc), title=what.capitalize(), severity="error", timeout=10)

    @work(exclusive=True, group="run", exit_on_error=False)
    async def drive(self) -> None:
        """Prepare, start, follow the snapshots to the final one, then show the summary."""
        session = self.session
        try:
            session.prepare()  # SessionError: missing env variable, report folder not writable
            await session.start()  # PreflightError: target unreachable; WorkerStartError
        except Exception as exc:  # shown on the screen and in a notification: the user can go back
            self._failed("run did not start", exc)
            return
        self.app.active_run = session
        if not session.in_process:
            self.app.yield_cpu_to_workers()
        self.query_one(RunHeader).set_target(session.target_url)
        self.query_one(EventLog).note(f"started against {session.target_url}", 0.0)
        assert self._subscription is not None
        await follow(self._subscription, self, self.min_interval)
        try:
            outcome = await session.finish()
        except Exception as exc:  # shown, as above
            self._failed("run failed", exc)
            return
        if outcome.report_error:
            self.notify(outcome.report_error, title="Report", severity="error", timeout=10)
        self.app.active_run = None
        self.finish(outcome.final, outcome.verdicts, outcome.report_dir)

    def finish(self, final: Snapshot, verdicts: list, report: Path | None) -> None:
        """Show the summary in place of this screen (or quit, when the user asked to while it ran)."""
        from .summary import SummaryScreen

        if self.app.quit_requested:
            self.app.leave()
            return
        self.app.switch_screen(SummaryScreen(self.profile, final, verdicts, report))

    def _remember(self, snapshot: Snapshot) -> None:
        self._unseen.append(snapshot)
        del self._unseen[:-1000]

    @on(SnapshotArrived)
    def _snapshot(self, message: SnapshotArrived) -> None:
        self.show_snapshot(message.snapshot)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show ``snapshot``; trends and events also take the ticks skipped since the last frame."""
        self.last = snapshot
        self.set_class(snapshot.model == "open", "-open-model")
        if self.phase not in ("stopping", "failed") or snapshot.final:
            self.phase = snapshot.phase
        if snapshot.target_load:
            self.set_reactive(DashboardScreen.load_target, snapshot.target_load)
        for widget in (RunHeader, PercentilePanel, ConnectionCounters, GeneratorHealth, EndpointTable, FailureTable):
            self.query_one(widget).update_snapshot(snapshot)
        ticks = [s for s in self._unseen if s.seq <= snapshot.seq]
        self._unseen = [s for s in self._unseen if s.seq > snapshot.seq]
        if not any(s is snapshot for s in ticks):
            ticks.append(snapshot)
        self.query_one(Trends).update_snapshots(ticks)
        log = self.query_one(EventLog)
        for tick in ticks:
            log.update_snapshot(tick)

    def watch_phase(self, phase: str) -> None:
        for header in self.query(RunHeader):  # none yet when read before the screen is composed
            header.set_phase(phase)
        self.refresh_bindings()

    # ------------------------------------------------------------ keys

    @property
    def running(self) -> bool:
        return self.app.active_run is self.session and self.phase not in ("stopping", "finished", "failed")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in ("load", "stop", "abort", "sort", "back", "again"):
            return True  # (asked before mount too: phase is read only for the run's own keys)
        if self.phase == "failed" and action in ("load", "stop", "abort"):
            return False  # gone: nothing runs any more
        if action == "sort":
            return self.last is not None or self.phase != "failed"
        if action in ("load", "stop", "abort"):  # shown dimmed while they cannot act yet
            ok = self.running if action != "abort" else self.app.active_run is self.session
            return True if ok else None
        if action == "back":
            return self.app.active_run is not self.session
        if action == "again":
            return self.phase == "failed"
        return True

    def action_load(self, step: str) -> None:
        if not self.running:
            return
        model = self.profile.load.model
        value = next_load(model, self.load_target, step)
        self.session.set_load(value)
        self.load_target = value
        self.notify(f"load set to {load_value(model, value)}", timeout=2)

    @work(group="stop")
    async def action_stop(self) -> None:
        if not self.running:
            return
        self.phase = "stopping"
        await self.session.stop()

    @work(group="abort")
    async def action_abort(self) -> None:
        if self.app.active_run is not self.session:
            return
        if await self.app.push_screen_wait(ChoiceDialog("Abort the run now? In-flight requests are dropped.", default="no")) != "yes":
            return
        self.abort()

    def abort(self) -> None:
        self.phase = "stopping"
        self.session.abort()

    def action_sort(self) -> None:
        self.query_one(EndpointTable).action_next_sort()

    def action_back(self) -> None:
        if self.app.active_run is not self.session:
            self.dismiss(None)

    def action_again(self) -> None:
        if self.phase == "failed":
            self.dismiss(None)
            self.app.start_run(self.profile)

    async def on_unmount(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._forget()
        await asyncio.sleep(0)

