"""Judge a profile's threshold rules against a snapshot (the final one, or a live one to abort early)."""

from __future__ import annotations

from ..profile.thresholds import Rule, Verdict, evaluate
from .kinds import PERCENTILE_NAMES
from .snapshot import Snapshot

__all__ = ["judge", "lookup_stat"]


def lookup_stat(snapshot: Snapshot, kind: str, name: str | None, stat: str) -> float | None:
    """The observed value of ``stat`` for an endpoint (or with no ``name``, a kind's aggregate), or None
    with no data."""
    stats = snapshot.find(kind, name)
    if stats is None:
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
    if stat == "max":
        return stats.latency.max
    if stat == "min":
        return stats.latency.min
    if stat == "avg":
        return stats.latency.mean
    return stats.latency.percentiles[PERCENTILE_NAMES.index(stat)] if stat in PERCENTILE_NAMES else None


def judge(rules: list[Rule], snapshot: Snapshot) -> list[Verdict]:
    return evaluate(rules, lambda kind, name, stat: lookup_stat(snapshot, kind, name, stat))

