"""``summary.json``: everything the report says, as data (schema in docs/REPORTS.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..metrics.events import StopCause
from ..metrics.judge import outcome_of
from ..metrics.snapshot import Snapshot
from ..profile.models import Profile
from ..profile.thresholds import LATENCY_STATS, Verdict
from .redact import redact_url
from .tables import EMPTY, ms, split, stats_record, type_of
from .timeline import Health

__all__ = ["SCHEMA_VERSION", "build_summary", "iso", "load_settings"]

SCHEMA_VERSION = 1


def iso(unix: float) -> str:
    """Local time with its UTC offset, e.g. ``2026-11-25T14:52:10+00:00``."""
    return datetime.fromtimestamp(unix).astimezone().isoformat(timespec="seconds")


def load_settings(profile: Profile) -> dict[str, Any]:
    """The load model's settings that apply to its model (closed or open)."""
    load = profile.load
    if load.model == "closed":
        think = load.think_time if isinstance(load.think_time, float) else load.think_time.model_dump()
        out: dict[str, Any] = {"model": "closed", "users": load.users, "spawn_rate": load.spawn_rate,
                               "think_time": think}
    else:
        out = {"model": "open", "rate": load.rate, "max_in_flight": load.max_in_flight}
    out["stages"] = [{"duration": s.duration, "target": s.target} for s in load.stages]
    out["peak"] = load.peak
    return out


def _peak(final: Snapshot) -> float:
    """Most users (closed) or highest rate asked for (open) at any tick, live changes included."""
    return float(final.peak_users) if final.model == "closed" else round(final.peak_target, 3)


def _unit(stat: str) -> str:
    if stat in LATENCY_STATS:
        return "ms"
    return {"error_rate": "fraction", "rps": "per_second"}.get(stat, "count")


def verdict_record(v: Verdict) -> dict[str, Any]:
    rule = v.rule
    return {
        "selector": rule.selector,
        "kind": rule.kind,
        "name": rule.name,
        "rule": rule.text,
        "stat": rule.metric,
        "op": rule.op,
        "limit": rule.value,
        "observed": v.observed,
        "unit": _unit(rule.stat),
        "passed": v.passed,
        "text": v.describe(),
    } | ({"baseline": _finite(rule.baseline), "limit": _finite(rule.value)} if rule.against_baseline else {})


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else value


def build_summary(
    *,
    profile: Profile,
    target_url: str,
    started_at: float,
    tool_version: str,
    settings: dict[str, Any],
    final: Snapshot,
    verdicts: list[Verdict],
    notes: list[str],
    health: Health,
    pool_sections: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """summary.json. ``pool_sections``: what the worker pool adds (a cluster: ``hosts``, ``clock``)."""
    endpoints, aggregates = split(final.total_stats)
    planned = final.duration or profile.duration  # the run's own plan (a CLI override included)
    passed = all(v.passed for v in verdicts)
    outcome = outcome_of(final.stop_reason, verdicts)
    hdr = {(kind, name, aggregate): encoded.decode("ascii") for kind, name, aggregate, encoded in final.histograms}

    def record(s: Any, aggregate: bool = False) -> dict[str, Any]:
        out = stats_record(s)
        if (key := (s.kind, s.name, aggregate)) in hdr:
            out["latency_hdr"] = hdr[key]
        return out

    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "liminal-tui", "version": tool_version},
        "profile": profile.name,
        "description": profile.description,
        "target": redact_url(target_url),
        "target_setting": redact_url(profile.target),
        "started_at": iso(started_at),
        "ended_at": iso(final.wall_time) if final.wall_time else None,
        "duration": {"actual_s": round(final.elapsed, 3), "planned_s": planned},
        "stop_reason": str(final.stop_reason or StopCause.COMPLETED),
        "outcome": outcome,
        "passed": outcome == "passed",
        "load": {
            **load_settings(profile),
            # what the run reached, live changes included (the summary screen's figure); the plan beside it
            "peak": _peak(final) or profile.load.peak,
            "planned_peak": profile.load.peak,
            "users_at_end": final.users,
            "iterations": final.iterations,
            "dropped": final.dropped,
        },
        "settings": settings,
        "endpoints": [record(s) for s in endpoints],
        "aggregates": {kind: record(s, aggregate=True) for kind, s in aggregates.items()} or {"all": stats_record(EMPTY)},
        "failures": {
            "total": sum(e.count for e in final.errors),
            "groups": [
                {"kind": e.kind, "type": type_of(e), "name": e.name, "method": e.method, "error": e.error,
                 "message": e.message, "occurrences": e.count}
                for e in final.errors
            ],
        },
        "websocket": {
            "open_at_end": final.ws.open,
            "peak_open": final.ws.peak_open,
            "connects": final.ws.connects,
            "reconnects": final.ws.reconnects,
            "drops": final.ws.drops,
            "messages_in": final.ws.messages_in,
            "messages_out": final.ws.messages_out,
            "messages_timed_at_read": final.ws.messages_timed_at_read,
        },
        "thresholds": {
            "passed": passed,
            "abort_on_fail": profile.thresholds.abort_on_fail,
            "verdicts": [verdict_record(v) for v in verdicts],
        },
        "generator": {
            "saturated": health.saturated,
            "saturated_seconds": health.saturated_ticks,
            "warning": health.warning,
            "workers": [
                {"worker": w.worker, "max_cpu_percent": round(w.cpu_percent, 1),
                 "max_loop_lag_ms": ms(w.loop_lag_ms), "max_loop_lag_p99_ms": ms(w.loop_lag_p99_ms),
                 "max_rss_mb": round(w.rss_mb, 1), "saturated_seconds": w.saturated_ticks}
                for w in sorted(health.workers.values(), key=lambda w: w.worker)
            ],
            "dropped_arrivals": final.dropped,
        },
        **(pool_sections or {}),
        "notes": list(notes),
    }
