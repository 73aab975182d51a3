"""A run from start to report: what ``--run`` and the app's dashboard both do.

    session = Session(profile, workers=1, report_base=Path("reports"))
    session.prepare()             # SessionError: report dir unwritable, env variable missing, TLS file bad
    await session.start()         # PreflightError: target unreachable; WorkerStartError
    ... session.run.bus / session.run.set_load(...) / await session.run.stop() ...
    outcome = await session.finish()   # final snapshot, verdicts, report directory
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import __version__
from .metrics.bus import MetricsBus, Subscription
from .metrics.judge import judge
from .engine.preflight import preflight
from .engine.run import Run
from .engine.clients.tls import check_files
from .metrics.snapshot import Snapshot
from .live import LiveRun, Outcome
from .metrics.events import StopReason
from .profile.loader import ProfileError, check_environment
from .profile.models import Profile
from .report.timeline import Health

if TYPE_CHECKING:
    from .cluster import ClusterAddress

__all__ = ["Session", "SessionError", "Outcome", "LiveRun"]

MAX_INCIDENTS = 100
"""Incidents kept for the report's notes; a run that keeps failing does not grow its report without end."""


class SessionError(Exception):
    """Something to fix before a run can start; ``str()`` is one line for the user."""


class Session:
    """A run with its report writer and exporter: what every front end drives (see :class:`LiveRun`)."""

    def __init__(self, profile: Profile, *, workers: int | Literal["auto"] = 1, report_base: Path | None = Path("reports"),
                 tick: float = 1.0, grace: float = 5.0, prometheus: tuple[str, int] | None = None,
                 settings: dict[str, Any] | None = None, baseline: Any = None,
                 cluster: "ClusterAddress | None" = None) -> None:
        self.profile = profile
        self.baseline = baseline
        """A :class:`~liminal_tui.history.baseline.Baseline` for rules like ``p99 < baseline + 10%``."""
        self.cluster: Any = None
        """``--cluster``: the :class:`~liminal_tui.cluster.pool.ClusterPool` whose hosts are the run's workers."""
        if cluster is not None:
            from .cluster.pool import ClusterPool  # Dask is imported only here

            self.cluster = ClusterPool(cluster, workers_per_host=workers)
            settings = {"cluster": str(cluster), "workers_per_host": workers, **(settings or {})}
        self.run = Run(profile, workers=1 if cluster else workers, tick=tick, grace=grace,
                       buckets=prometheus is not None, pool=self.cluster, rules=self.rules())
        self.report_base = report_base
        self.prometheus = prometheus
        self.settings = settings or {}
        self._demo: Any = None
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liminal-report")
        """The report writer's one thread: its files are written in order, off the event loop."""
        self._history: Subscription | None = None
        self._history_task: asyncio.Task[None] | None = None
        self.writer: Any = None
        self.exporter: Any = None
        self.health = Health()
        """The worst each worker did over the run (CPU, loop lag, saturated ticks)."""
        self.run.bus.add_callback(self.health.add)
        self.incidents: list[str] = []
        """Events a report must carry: workers lost, thresholds lost, workers killed (bounded)."""
        self.run.bus.add_callback(self._watch_events)

    # -- the LiveRun protocol: the run's bus and controls --------------------------------------------
    @property
    def bus(self) -> MetricsBus:
        return self.run.bus

    @property
    def target_url(self) -> str:
        return self.run.target_url

    @property
    def in_process(self) -> bool:
        return self.run.in_process

    def set_load(self, value: float) -> None:
        self.run.set_load(value)

    async def stop(self, reason: StopReason | None = None) -> None:
        await self.run.stop(reason)

    def abort(self, reason: StopReason | None = None) -> None:
        self.run.abort(reason)

    def _watch_events(self, snapshot: Snapshot) -> None:
        for event in snapshot.events:
            if event.incident:
                if len(self.incidents) < MAX_INCIDENTS:
                    self.incidents.append(f"{snapshot.elapsed:.0f}s: {event}")

    def prepare(self) -> None:
        try:
            check_environment(self.profile)
        except ProfileError as exc:
            raise SessionError(str(exc)) from None
        tls_problems = check_files(self.profile.http)  # CA bundle, client certificate and key
        if tls_problems:
            raise SessionError(str(ProfileError(self.profile.name, tls_problems)))
        if self.report_base is not None:
            from .report import ReportError, ReportWriter

            try:
                self.writer = ReportWriter(
                    self.report_base, self.profile, target_url=self.profile.target, started_at=time.time(),
                    tool_version=__version__, settings={"workers": self.run.workers, **self.settings},
                )
                self.writer.check_writable()
            except ReportError as exc:
                raise SessionError(str(exc)) from None
            # The writer's disk I/O runs on a thread of its own, never on the loop (in the app: the UI's).
            self._history = self.run.bus.subscribe("every")
            if self.baseline is not None:
                from .history.html import comparison_section

                self.writer.extra["baseline"] = self.baseline.record()
                self.writer.sections.append(lambda summary, folder: comparison_section(self.baseline.run, summary, folder))
        if self.prometheus is not None:
            from .exporter import PrometheusExporter

            try:
                self.exporter = PrometheusExporter(*self.prometheus)
            except OSError as exc:
                if self.writer is not None:
                    self.writer.discard()  # nothing will run: no empty report folder
                raise SessionError(f"cannot serve Prometheus metrics on {self.prometheus[0]}:{self.prometheus[1]}: {exc.strerror or exc}") from None
            self.run.bus.add_callback(self.exporter.on_snapshot)

    async def start(self) -> None:
        """Start the demo target (``target = "builtin"``) or check the target answers (from every host of a
        cluster), then the run. If it cannot start (PreflightError, the demo target or workers failing), the
        report folder that :meth:`prepare` made is removed again: nothing ran, so there is no report."""
        try:
            url = self.profile.target
            if url == "builtin":
                from .demo.process import DemoProcess

                self._demo = DemoProcess()
                await asyncio.get_running_loop().run_in_executor(None, self._demo.__enter__)
                url = self._demo.url
            elif self.cluster is None:
                await preflight(url)
            try:
                if self.cluster is not None:  # the target is checked from every host instead
                    self.run.workers = await self.cluster.connect(url)
                    if self.writer is not None:
                        self.writer.settings["workers"] = self.run.workers
                await self.run.start(url)
            except BaseException:
                await self._stop_demo()
                raise
        except BaseException:
            if self.writer is not None:
                self.writer.discard()
            raise
        if self.writer is not None:
            self.writer.target_url = self.run.target_url
            if self.run.started_at:
                self.writer.started_at = self.run.started_at
            self._history_task = asyncio.create_task(self._feed_writer(), name="liminal-report-history")

    async def _feed_writer(self) -> None:
        """Hand every snapshot to the report writer, on its thread; ends after the final one."""
        assert self._history is not None
        loop = asyncio.get_running_loop()
        async for snapshot in self._history:
            await loop.run_in_executor(self._io, self.writer.on_snapshot, snapshot)

    def summary(self, outcome: "Outcome") -> dict[str, Any]:
        """Everything in summary.json, for ``--json`` (also without a report)."""
        from .report.summary import build_summary

        data = build_summary(
            profile=self.profile, target_url=self.run.target_url, started_at=self.run.started_at or 0.0,
            tool_version=__version__, settings={"workers": self.run.workers, **self.settings},
            final=outcome.final, verdicts=outcome.verdicts, notes=self.notes(outcome.final), health=self.health,
            pool_sections=self.run.pool.summary(),
        )
        if outcome.report_dir:
            data["report_dir"] = str(outcome.report_dir)
        if self.baseline is not None:
            data["baseline"] = self.baseline.record()
        return data

    async def finish(self) -> Outcome:
        """Wait for the run to end; judge thresholds; write the report (even for an interrupted run)."""
        try:
            final = await self.run.wait()
        finally:
            await self._stop_demo()
        verdicts = judge(self.rules(), final)
        report_dir = None
        error = None
        if self.writer is not None:
            try:
                if self._history_task is not None:
                    await self._history_task
                report_dir = await asyncio.get_running_loop().run_in_executor(
                    self._io, partial(self.writer.write, final, verdicts, notes=self.notes(final),
                            pool_sections=self.run.pool.summary()))
            except Exception as exc:  # ReportError or OSError: the summary still reaches the user
                error = f"could not write the report: {getattr(exc, 'message', exc)}"
        self._io.shutdown(wait=False)
        if self.exporter is not None:
            self.exporter.close()
        return Outcome(final, verdicts, report_dir, error)


    def rules(self) -> list[Any]:
        """The profile's threshold rules; those relative to a baseline get their limits from it."""
        rules = self.profile.thresholds.parsed()
        return self.baseline.resolve(rules) if self.baseline is not None else rules
    async def _stop_demo(self) -> None:
        if self._demo is not None:
            demo, self._demo = self._demo, None
            await asyncio.get_running_loop().run_in_executor(None, demo.__exit__, None, None, None)

    def notes(self, final: Snapshot) -> list[str]:
        notes = []
        if self.baseline is not None:
            notes.extend(self.baseline.notes())
        else:
            waiting = sum(r.against_baseline for r in self.profile.thresholds.parsed())
            if waiting:
                notes.append(f"{waiting} threshold rule(s) relative to a baseline were not judged: no --baseline was given.")
        if not self.profile.http.verify_tls:
            notes.append("TLS certificate verification was off for this run.")
        if self.health.warning:  # the report's own warning, word for word: report.html shows it once
            notes.append(self.health.warning)
        notes.extend(self.incidents)
        notes.extend(f"a reader failed and was dropped: {error}" for error in self.run.unnoted_reader_errors)
        if final.dropped:
            notes.append(f"{final.dropped} arrivals were dropped: max_in_flight and its backlog were full.")
        return notes
