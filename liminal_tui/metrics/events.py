"""What happened during a run, typed: readers pick by kind, never by searching the text.

    Event(EventKind.THRESHOLD_LOST, "threshold lost: http p99 < 500ms")
    StopReason(StopCause.INTERRUPTED, "SIGINT")      # str(): "interrupted (SIGINT)"

No dependencies, like :mod:`.kinds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EventKind", "Event", "INCIDENTS", "StopCause", "StopReason"]


class EventKind(StrEnum):
    PHASE = "phase"
    """The run's phase changed (ramping, steady, stopping)."""
    LOAD = "load"
    """The load was set live."""
    STOPPING = "stopping"
    """A graceful stop was asked for."""
    ABORT = "abort"
    """An immediate stop was asked for."""
    THRESHOLD_LOST = "threshold_lost"
    """A threshold with ``abort_on_fail`` was lost for good: the run stops."""
    SATURATED = "saturated"
    """The load generator itself is saturated (CPU or event-loop lag): figures may be skewed."""
    WORKER_FAILED = "worker_failed"
    """A worker's engine raised an error."""
    WORKER_DIED = "worker_died"
    """A worker process died; its load is missing from then on."""
    WORKER_SILENT = "worker_silent"
    """A worker process exited but its last report never arrived."""
    WORKERS_KILLED = "workers_killed"
    """Workers that did not stop in time were killed."""
    READER_FAILED = "reader_failed"
    """A reader of the metrics bus raised and was dropped (the run goes on without it)."""


INCIDENTS = frozenset({
    EventKind.ABORT, EventKind.THRESHOLD_LOST, EventKind.WORKER_FAILED, EventKind.WORKER_DIED,
    EventKind.WORKER_SILENT, EventKind.WORKERS_KILLED, EventKind.READER_FAILED,
})
"""Events a report must carry as notes."""


@dataclass(frozen=True, slots=True)
class Event:
    """One notable event of a tick: a kind to act on, a text to show."""

    kind: EventKind
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def incident(self) -> bool:
        """Something a report must mention (see :data:`INCIDENTS`)."""
        return self.kind in INCIDENTS


class StopCause(StrEnum):
    """Why load stopped."""

    COMPLETED = "completed"
    """The planned duration ran out."""
    STOPPED = "stopped"
    """Asked to stop (the app's stop key)."""
    INTERRUPTED = "interrupted"
    """A signal (Ctrl-C, SIGTERM, SIGHUP); the detail names it."""
    ABORTED = "aborted"
    """Asked to stop at once."""
    THRESHOLD_LOST = "threshold lost"
    """A threshold with ``abort_on_fail`` was lost; the detail is the rule."""
    WORKER_LOST = "worker lost"
    """A worker died and ``on_worker_loss = "stop"``; the detail says which."""


_TEXT = {
    StopCause.INTERRUPTED: "interrupted ({detail})",
    StopCause.THRESHOLD_LOST: "threshold lost: {detail}",
}
"""How a cause reads with its detail; any other cause reads as the detail alone."""


@dataclass(frozen=True, slots=True)
class StopReason:
    """Why a run stopped: a cause to act on and a detail to show; ``str()`` is the line for people
    (``completed``; ``interrupted (SIGINT)``; ``threshold lost: http p99 < 500ms``; ``worker 1 died``)."""

    cause: StopCause
    detail: str = ""

    def __str__(self) -> str:
        if not self.detail:
            return self.cause.value
        return _TEXT.get(self.cause, "{detail}").format(detail=self.detail)

    @property
    def completed(self) -> bool:
        return self.cause is StopCause.COMPLETED
