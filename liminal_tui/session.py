"""A run from start to report: what ``--run`` and the app's dashboard both do.

    session = Session(profile, workers=1, report_base=Path("reports"))
    session.prepare()             # SessionError: report dir unwritable, env variable missing, TLS file bad
    await session.start()         # PreflightError: target unreachable
    ... session.run.bus / session.run.set_load(...) / await session.run.stop() ...
    outcome = await session.finish()   # final snapshot, verdicts, report directory
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import __version__
from .engine.judge import judge
from .engine.run import Run
from .engine.snapshot import Snapshot
from .engine.tls import check_files
from .profile.loader import ProfileError, check_environment
from .profile.models import Profile
from .profile.thresholds import Verdict
from .report.timeline import Health

__all__ = ["Session", "SessionError", "Outcome"]


class SessionError(Exception):
    """Something to fix before a run can start; ``str()`` is one line for the user."""


@dataclass(frozen=True)
class Outcome:
    final: Snapshot
    verdicts: list[Verdict]
    report_dir: Path | None
    report_error: str | None = None

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


class Session:
    def __init__(self, profile: Profile, *, workers: int | Literal["auto"] = 1, report_base: Path | None = Path("reports"),
                 tick: float = 1.0, grace: float = 5.0, prometheus: tuple[str, int] | None = None,
                 settings: dict[str, Any] | None = None) -> None:
        self.profile = profile
        self.run = Run(profile, workers=workers, tick=tick, grace=grace, buckets=prometheus is not None)
        self.report_base = report_base
        self.prometheus = prometheus
        self.settings = settings or {}
        self.writer: Any = None
        self.exporter: Any = None
        self.health = Health()
        """The worst each worker did over the run (CPU, loop lag, saturated ticks)."""
        self.run.bus.add_callback(self.health.add)
        self.incidents: list[str] = []
        """Events a report must carry: workers lost, thresholds lost, workers killed (bounded)."""
        self.run.bus.add_callback(self._watch_events)

    def _watch_events(self, snapshot: Snapshot) -> None:
        for event in snapshot.events:
            if any(word in event for word in ("died", "failed", "threshold lost", "killed", "abort")):
                if len(self.incidents) < 100:
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
            self.run.bus.add_callback(self.writer.on_snapshot)
        if self.prometheus is not None:
            from .exporter import PrometheusExporter

            try:
                self.exporter = PrometheusExporter(*self.prometheus)
            except OSError as exc:
                raise SessionError(f"cannot serve Prometheus metrics on {self.prometheus[0]}:{self.prometheus[1]}: {exc.strerror or exc}") from None
            self.run.bus.add_callback(self.exporter.on_snapshot)

    async def start(self) -> None:
        await self.run.start()
        if self.writer is not None:
            self.writer.target_url = self.run.target_url
            if self.run.started_at:
                self.writer.started_at = self.run.started_at

    def summary(self, outcome: "Outcome") -> dict[str, Any]:
        """Everything in summary.json, for ``--json`` (also without a report)."""
        from .report.summary import build_summary

        data = build_summary(
            profile=self.profile, target_url=self.run.target_url, started_at=self.run.started_at or 0.0,
            tool_version=__version__, settings={"workers": self.run.workers, **self.settings},
            final=outcome.final, verdicts=outcome.verdicts, notes=self.notes(outcome.final), health=self.health,
        )
        if outcome.report_dir:
            data["report_dir"] = str(outcome.report_dir)
        return data

    async def finish(self) -> Outcome:
        """Wait for the run to end; judge thresholds; write the report (even for an interrupted run)."""
        final = await self.run.wait()
        verdicts = judge(self.profile.thresholds.parsed(), final)
        report_dir = None
        error = None
        if self.writer is not None:
            try:
                report_dir = self.writer.write(final, verdicts, notes=self.notes(final))
            except Exception as exc:  # ReportError or OSError: the summary still reaches the user
                error = f"could not write the report: {getattr(exc, 'message', exc)}"
        self.run.report_dir = report_dir
        if self.exporter is not None:
            self.exporter.close()
        return Outcome(final, verdicts, report_dir, error)


    def notes(self, final: Snapshot) -> list[str]:
        notes = []
        if not self.profile.http.verify_tls:
            notes.append("TLS certificate verification was off for this run.")
        if self.health.saturated_ticks:
            notes.append(
                f"The load generator was saturated for {self.health.saturated_ticks} tick(s) (CPU >= 90% or event-loop lag >= 50 ms): "
                "latencies then include the generator's own delay."
            )
        notes.extend(self.incidents)
        if final.dropped:
            notes.append(f"{final.dropped} arrivals were dropped: max_in_flight and its backlog were full.")
        return notes
