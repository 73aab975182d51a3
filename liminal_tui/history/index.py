"""The run history: ``reports/`` is the store, and the index is derived from its folders each time.

Nothing else is kept: a folder deleted by hand is simply gone from the history. Folders that are not a
whole report (no ``summary.json``, a broken one, a run still going, something else entirely) are skipped
with a note that says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .record import SUMMARY, RunError, RunRecord, clean, load_run

__all__ = ["RunIndex", "scan"]


@dataclass
class RunIndex:
    """Every readable run under one folder, oldest first, and a note for each folder skipped."""

    base: Path
    runs: list[RunRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def profiles(self) -> list[str]:
        return sorted({r.profile for r in self.runs})

    def of(self, profile: str | None) -> list[RunRecord]:
        """Runs of ``profile`` (all runs for None), oldest first."""
        return [r for r in self.runs if profile is None or r.profile == profile]

    def latest(self, profile: str, exclude: Path | None = None) -> RunRecord | None:
        """The newest run of ``profile`` other than the one in ``exclude``."""
        skip = exclude.resolve() if exclude is not None else None
        for run in reversed(self.of(profile)):
            if run.folder.resolve() != skip:
                return run
        return None

    def previous(self, run: RunRecord) -> RunRecord | None:
        """The run of the same profile that started just before ``run``."""
        here = run.folder.resolve()
        earlier = None
        for other in self.of(run.profile):
            if other.folder.resolve() == here:
                return earlier
            earlier = other
        before = [o for o in self.of(run.profile) if o.started < run.started]
        return before[-1] if before else None


def scan(base: Path | str) -> RunIndex:
    """Read every report folder directly under ``base`` (a missing ``base`` is an empty history)."""
    base = Path(base)
    index = RunIndex(base)
    try:
        entries = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    except FileNotFoundError:
        return index
    except OSError as exc:
        index.notes.append(f"{base}: cannot be listed ({exc.strerror or exc})")
        return index
    for folder in entries:
        if not (folder / SUMMARY).exists():
            partial = any(folder.glob(".*.part"))
            index.notes.append(f"skipped {clean(folder.name)}: " + (
                "no summary.json yet (a run in progress, or one that ended before its report)" if partial
                else "no summary.json (not a report folder)"))
            continue
        try:
            index.runs.append(load_run(folder))
        except RunError as exc:
            index.notes.append(f"skipped {clean(folder.name)}: {clean(str(exc).removeprefix(str(folder / SUMMARY) + ': '))}")
    index.runs.sort(key=lambda r: (r.started.timestamp(), r.folder.name))
    return index
