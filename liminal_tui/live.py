"""What a front end drives: one run with its report, behind one protocol.

:class:`~liminal_tui.session.Session` implements :class:`LiveRun`; so do the app's test stand-ins. The
app (and any future front end: a browser, a remote controller) talks to nothing else. No engine code is
imported here, so the app can start without loading the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from .metrics.bus import MetricsBus
from .metrics.snapshot import Snapshot
from .metrics.events import StopReason
from .profile.thresholds import Verdict

__all__ = ["LiveRun", "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """How a run ended: its final snapshot, the thresholds' verdicts and where the report went."""

    final: Snapshot
    verdicts: list[Verdict]
    report_dir: Path | None
    report_error: str | None = None
    """Why the report could not be written (the summary still reaches the user)."""

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


@runtime_checkable
class LiveRun(Protocol):
    """A run from preparation to report, as every front end drives it."""

    @property
    def bus(self) -> MetricsBus:
        """Snapshots, from start to the final one; subscribe before :meth:`start` to miss none."""

    @property
    def target_url(self) -> str:
        """The target's base URL (the demo target's, once started, for ``builtin``)."""

    @property
    def in_process(self) -> bool:
        """True when the engine runs in this process (no worker processes to yield the CPU to)."""

    def prepare(self) -> None:
        """Check what can be checked before starting; raise an error whose ``str()`` is one line."""

    async def start(self) -> None:
        """Start load (raise if the target is unreachable or the engine cannot start)."""

    def set_load(self, value: float) -> None:
        """Users (closed model) or iterations/s (open model), from now on."""

    async def stop(self, reason: StopReason | None = None) -> None:
        """Graceful stop: in-flight requests finish within the grace period."""

    def abort(self, reason: StopReason | None = None) -> None:
        """Stop at once; what completed is still reported."""

    async def finish(self) -> Outcome:
        """Wait for the final snapshot; judge the thresholds; write the report."""
