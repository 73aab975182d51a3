"""A baseline run for CI: ``--run PROFILE --baseline PATH`` and rules such as ``p99 < baseline + 10%``.

    baseline = load_baseline("baseline/summary.json", profile, force=False)   # BaselineError: exit 2
    rules = baseline.resolve(profile.thresholds.parsed())                     # limits from its figures

A baseline must be a run of the same profile against the same target, long enough to mean something
(at least half this run's planned duration, with requests): anything else is refused unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..profile.models import Profile
from ..profile.thresholds import Rule
from ..report.redact import redact_url
from .record import RunError, RunRecord, clean, load_run, stat_of

__all__ = ["Baseline", "BaselineError", "load_baseline", "MIN_SHARE"]

MIN_SHARE = 0.5
"""A baseline shorter than this share of the run's planned duration is too short."""


class BaselineError(Exception):
    """The baseline cannot be used; ``str()`` is one line for the user (exit code 2)."""


def _row(summary: dict[str, Any], kind: str, name: str | None) -> dict[str, Any] | None:
    if name is None:
        return (summary.get("aggregates") or {}).get(kind)
    for e in summary.get("endpoints") or []:
        if e.get("name") == name and (kind == "all" or e.get("kind") == kind):
            return e
    return None


@dataclass
class Baseline:
    run: RunRecord
    forced: list[str] = field(default_factory=list)
    """The problems ``--baseline-force`` overrode (said in the notes)."""

    @property
    def label(self) -> str:
        return f"{self.run.folder} (started {self.run.started_at})"

    def value(self, kind: str, name: str | None, stat: str) -> float | None:
        return stat_of(_row(self.run.summary, kind, name), stat)

    def resolve(self, rules: list[Rule]) -> list[Rule]:
        """Each baseline rule with its limit from the baseline's figure; one the baseline has no figure
        for keeps no limit and fails (as a rule without data does)."""
        out = []
        for rule in rules:
            if rule.against_baseline:
                value = self.value(rule.kind, rule.name, rule.metric)
                rule = rule.with_baseline(value) if value is not None else rule.with_baseline(float("nan"))
            out.append(rule)
        return out

    def notes(self) -> list[str]:
        notes = [f"Baseline: {clean(self.label)}."]
        notes += [f"Baseline used despite: {clean(p)} (--baseline-force)." for p in self.forced]
        return notes

    def record(self) -> dict[str, Any]:
        """What summary.json says about the baseline."""
        return {"folder": str(self.run.folder), "profile": self.run.profile, "target": self.run.target,
                "started_at": self.run.started_at, "duration_s": self.run.duration_s, "forced": list(self.forced)}


def problems(run: RunRecord, profile: Profile) -> list[str]:
    """Why ``run`` is not a fair baseline for ``profile`` (empty: it is)."""
    out = []
    if run.profile != profile.name:
        out.append(f"it is a run of profile '{run.profile}', not '{profile.name}'")
    target = redact_url(profile.target)
    if run.target_setting != target:
        out.append(f"it ran against {run.target_setting}, not {target}")
    requests = int(run.total.get("requests") or 0)
    if requests == 0:
        out.append("it made no request")
    elif run.duration_s < MIN_SHARE * profile.duration:
        out.append(f"it ran {run.duration_s:g} s, under {MIN_SHARE:.0%} of this run's {profile.duration:g} s")
    return out


def load_baseline(path: str | Path, profile: Profile, force: bool = False) -> Baseline:
    try:
        run = load_run(path)
    except RunError as exc:
        raise BaselineError(f"baseline {clean(exc)}") from None
    found = problems(run, profile)
    if found and not force:
        raise BaselineError(
            f"baseline {clean(run.folder)} cannot be used: {clean('; '.join(found))}. "
            "Pass --baseline-force to use it anyway."
        )
    return Baseline(run, forced=found)
