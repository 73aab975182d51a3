"""What ``--compare`` and ``--history`` do; ``cli.py`` only parses the options and calls these.

Both return an exit code: 0, or 2 (:data:`EXIT_USAGE`) with a one-line error on stderr for a path that
is not a report, a missing run, or an HTML page that cannot be written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from .compare import Comparison, compare, format_comparison
from .index import RunIndex, scan
from .noise import MIN_CHANGE
from .record import RunError, RunRecord, clean, load_run

__all__ = ["compare_command", "history_command", "history_rows"]

EXIT_OK, EXIT_USAGE = 0, 2


def _newest_besides(old: RunRecord, stores: list[Path]) -> RunRecord | None:
    for store in stores:
        run = scan(store).latest(old.profile, exclude=old.folder)
        if run is not None and run.started >= old.started:
            return run
    return None


def compare_command(paths: list[str], report_dir: Path, *, as_json: bool = False, out: Path | None = None,
                    min_change: float = MIN_CHANGE, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """``--compare OLD [NEW]``: NEW defaults to the newest run of OLD's profile in the reports folder
    (``--report-dir``), else beside OLD."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if len(paths) > 2:
        print("liminal-tui: --compare takes OLD and at most one NEW run", file=stderr)
        return EXIT_USAGE
    try:
        old = load_run(paths[0])
        if len(paths) == 2:
            new = load_run(paths[1])
        else:
            found = _newest_besides(old, [report_dir, old.folder.parent])
            if found is None:
                print(f"liminal-tui: no run of profile '{clean(old.profile)}' newer than {clean(old.folder)} in "
                      f"{clean(report_dir)}: name the NEW run", file=stderr)
                return EXIT_USAGE
            new = found
    except RunError as exc:
        print(f"liminal-tui: {clean(exc)}", file=stderr)
        return EXIT_USAGE
    store = scan(report_dir)
    if not store.of(old.profile):
        store = scan(old.folder.parent)
    comparison = compare(old, new, min_change, history=store.runs)
    page = None
    if out is not None:
        from .html import write_comparison_page

        try:
            page = write_comparison_page(comparison, out)
        except OSError as exc:
            print(f"liminal-tui: cannot write the comparison page to {clean(out)}: {exc.strerror or exc}", file=stderr)
            return EXIT_USAGE
    if as_json:
        data = comparison.as_dict()
        if page is not None:
            data["html"] = str(page)
        print(json.dumps(data, indent=2), file=stdout)
    else:
        print(format_comparison(comparison), file=stdout)
        if page is not None:
            print(f"\nComparison page: {page}", file=stdout)
    return EXIT_OK


def history_rows(index: RunIndex, profile: str | None) -> list[tuple[RunRecord, Comparison | None]]:
    """Runs of ``profile`` (all profiles for None), oldest first, each with its comparison to the
    previous run of the same profile (None for the first)."""
    out = []
    last: dict[str, RunRecord] = {}
    for run in index.of(profile):
        before = last.get(run.profile)
        out.append((run, compare(before, run, history=index.runs) if before is not None else None))
        last[run.profile] = run
    return out


def history_command(profile: str | None, report_dir: Path, *, as_json: bool = False,
                    stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """``--history [PROFILE]``: every run in the reports folder, oldest first."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    index = scan(report_dir)
    rows = history_rows(index, profile or None)
    for note in index.notes:
        print(f"note: {note}", file=stderr)
    if as_json:
        print(json.dumps([_history_record(run, c) for run, c in rows], indent=2), file=stdout)
        return EXIT_OK
    if not rows:
        what = f"of profile '{clean(profile)}' " if profile else ""
        known = f" (profiles with runs: {', '.join(map(clean, index.profiles()))})" if profile and index.profiles() else ""
        print(f"No runs {what}in {clean(report_dir)}{known}.", file=stdout)
        return EXIT_OK
    table = [["started", "profile", "target", "duration", "req/s", "p99 ms", "errors", "thresholds", "vs previous"]]
    for run, c in rows:
        total = run.total
        p99 = run.p99
        table.append([
            run.started.strftime("%Y-%m-%d %H:%M:%S"), clean(run.profile), clean(run.target), f"{run.duration_s:.0f} s",
            f"{float(total.get('rps') or 0):,.1f}", "-" if p99 is None else f"{p99:,.2f}",
            f"{float(total.get('error_rate') or 0) * 100:.2f}%",
            {None: "-", True: "PASS", False: "FAIL"}[run.passed], c.verdict if c is not None else "-",
        ])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for j, row in enumerate(table):
        print("  ".join(c.rjust(w) if 3 <= i <= 6 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip(),
              file=stdout)
        if j == 0:
            print("  ".join("-" * w for w in widths), file=stdout)
    print(f"\n{len(rows)} run(s) in {clean(report_dir)}; compare two with: liminal-tui --compare OLD NEW", file=stdout)
    return EXIT_OK


def _history_record(run: RunRecord, c: Comparison | None) -> dict:
    total = run.total
    return {"folder": str(run.folder), "profile": run.profile, "target": run.target, "started_at": run.started_at,
            "duration_s": run.duration_s, "rps": total.get("rps"), "error_rate": total.get("error_rate"),
            "p99_ms": run.p99,
            "passed": run.passed, "vs_previous": c.verdict if c is not None else None}
