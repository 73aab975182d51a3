"""Judge a profile's threshold rules against a snapshot (the final one, or a live one to abort early)."""

from __future__ import annotations

from ..profile.thresholds import Rule, Verdict, evaluate
from .events import StopCause, StopReason
from .kinds import PERCENTILE_NAMES, TIMINGS
from .snapshot import LatencyStats, Snapshot

__all__ = ["judge", "lookup_stat", "outcome_of", "outcome_text"]


def lookup_stat(snapshot: Snapshot, kind: str, name: str | None, stat: str) -> float | None:
    """The observed value of ``stat`` for an endpoint (or with no ``name``, a kind's aggregate), or None
    with no data. ``timing.stat`` (``delivery.p99``) reads that timing's histogram (:data:`.kinds.TIMINGS`)."""
    stats = snapshot.find(kind, name)
    timing, dot, of = stat.partition(".")
    if dot and timing in TIMINGS:
        lat = getattr(stats, timing) if stats is not None else None
        return _latency(lat, of) if lat is not None and lat.count else None
    if stats is None or stats.total == 0:  # an endpoint with a row but no sample yet has no data either
        return 0.0 if stat in ("count", "failures", "error_rate") and name is None else None
    if stat == "count":
        return float(stats.total)
    if stat == "failures":
        return float(stats.failures)
    if stat == "error_rate":
        return stats.error_rate
    if stat == "rps":
        return stats.total / snapshot.elapsed if snapshot.elapsed > 0 else 0.0
    if stats.count == 0:
        return None
    return _latency(stats.latency, stat)


def _latency(lat: LatencyStats, stat: str) -> float | None:
    if stat == "max":
        return lat.max
    if stat == "min":
        return lat.min
    if stat == "avg":
        return lat.mean
    return lat.percentiles[PERCENTILE_NAMES.index(stat)] if stat in PERCENTILE_NAMES else None


def judge(rules: list[Rule], snapshot: Snapshot) -> list[Verdict]:
    return evaluate(rules, lambda kind, name, stat: lookup_stat(snapshot, kind, name, stat))


def outcome_of(stop_reason: StopReason | None, verdicts: list[Verdict]) -> str:
    """How a run ended, in one word: ``passed`` or ``failed`` (it ran to its end, or a threshold stopped it),
    ``stopped`` (stopped early: by the user, a signal or a lost worker) or ``aborted`` (in-flight dropped).

    A stopped or aborted run is never ``passed``: its thresholds were judged over what ran, shown beside.
    A second signal aborts (the CLI's ``interrupted (SIGINT, twice)``).
    """
    cause = stop_reason.cause if stop_reason is not None else StopCause.COMPLETED
    if cause is StopCause.ABORTED or (cause is StopCause.INTERRUPTED and stop_reason.detail.endswith(", twice")):
        return "aborted"
    failed = not all(v.passed for v in verdicts)
    if cause is StopCause.COMPLETED:
        return "failed" if failed else "passed"
    if cause is StopCause.THRESHOLD_LOST and failed:  # abort_on_fail: the threshold is why it ended
        return "failed"
    return "stopped"


def outcome_text(stop_reason: StopReason | None, verdicts: list[Verdict]) -> str:
    """The outcome as the summaries headline it: ``PASSED``, ``FAILED (1 of 3 thresholds)``,
    ``STOPPED (thresholds judged over what ran: 2 of 2 passed)``, ``ABORTED (...)``."""
    word = outcome_of(stop_reason, verdicts).upper()
    failed = sum(not v.passed for v in verdicts)
    if word == "PASSED":
        return word
    if word == "FAILED":
        return f"FAILED ({failed} of {len(verdicts)} thresholds)"
    if not verdicts:
        return word
    judged = f"{len(verdicts) - failed} of {len(verdicts)} passed" if not failed else f"{failed} of {len(verdicts)} failed"
    return f"{word} (thresholds judged over what ran: {judged})"
