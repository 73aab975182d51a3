"""What travels between a run and its workers: typed, frozen, picklable records (no tuples).

    run ──Start / SetLoad / Stop / Abort──► worker
    run ◄──Ready / IntervalReport / Failed / Done──  worker
    run ◄──Lost── pool (a worker that vanished without saying Done)

A :class:`~.pool.WorkerPool` carries them: in this process, to worker processes, or (later) to other
hosts. The same worker body (:func:`~.worker.serve_worker`) answers them everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..metrics.snapshot import IntervalReport

__all__ = [
    "Start", "SetLoad", "Stop", "Abort", "Command",
    "Ready", "Failed", "Done", "Lost", "IntervalReport", "WorkerEvent",
]


# ---------------------------------------------------------------- run -> worker


@dataclass(frozen=True, slots=True)
class Start:
    """Begin the load. Sent once every worker is :class:`Ready`."""

    at_ns: int
    """The run's start instant, Unix time in ns; each worker builds its :class:`~.clock.RunClock` from it."""


@dataclass(frozen=True, slots=True)
class SetLoad:
    """A live change of the whole run's load (each worker takes its share)."""

    value: float
    """Users (closed model) or iterations/s (open model)."""


@dataclass(frozen=True, slots=True)
class Stop:
    """No new iterations; in-flight ones get ``grace`` seconds to finish."""

    grace: float


@dataclass(frozen=True, slots=True)
class Abort:
    """Stop at once; what completed is still reported."""


Command = Union[Start, SetLoad, Stop, Abort]


# ---------------------------------------------------------------- worker (or pool) -> run


@dataclass(frozen=True, slots=True)
class Ready:
    """The worker has imported its engine and waits for :class:`Start`."""

    worker: int


@dataclass(frozen=True, slots=True)
class Failed:
    """Something failed in the worker that no sample records: its body raised (then :class:`Done`
    follows), or a part of it failed while it went on."""

    worker: int
    error: str
    """``ExceptionType: message``."""


@dataclass(frozen=True, slots=True)
class Done:
    """The worker has sent its final report and ended."""

    worker: int


@dataclass(frozen=True, slots=True)
class Lost:
    """The pool lost a worker that never said :class:`Done` (sent by the pool, not the worker)."""

    worker: int
    reason: str
    """What happened, e.g. ``exit code -9``."""
    crashed: bool = True
    """True: it died and its load is gone. False: it exited cleanly but its last report never arrived."""


WorkerEvent = Union[Ready, IntervalReport, Failed, Done, Lost]
