"""Two runs side by side: per endpoint, each figure's change and whether it is more than noise.

    comparison = compare(load_run("reports/load_20261125-145210"), load_run("reports/load_20261126-091500"))
    print(format_comparison(comparison))        # the terminal table
    json.dumps(comparison.as_dict())            # --json

How noise is decided is in :mod:`.noise` (and in every output, as :func:`~.noise.method` says). The
timings (TCP connect, TLS handshake, first byte, WebSocket delivery: ``timings_ms`` in ``summary.json``)
follow each endpoint's figures as p50 and p99 rows where both runs have them, shown with their change and
not judged: a run keeps no histogram or per-second series of them to measure their noise with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from ..metrics.kinds import TIMINGS
from .noise import MIN_CHANGE, MIN_ERROR_POINTS, MIN_PEERS, PEERS, between_runs, binomial, method, poisson_rate, quantile_halfwidth, welch
from .record import ALL, Key, RunRecord, clean, stat_of, steady

__all__ = ["Verdict", "MetricChange", "EndpointChange", "Comparison", "compare", "format_comparison", "METRICS",
           "TIMING_METRICS", "LABELS"]

Verdict = Literal["better", "worse", "same", "not judged", "no data", "new", "gone"]
METRICS = ("rps", "error_rate", "p50", "p95", "p99", "max")
"""The figures compared, as ``summary.json`` and the threshold rules name them."""
TIMING_METRICS = tuple(f"{t}.{p}" for t in TIMINGS for p in ("p50", "p99"))
"""The timings' figures shown after those (``delivery.p99``, as a threshold rule names it), not judged."""
LABELS = {"rps": "req/s", "error_rate": "error rate", "p50": "p50 ms", "p95": "p95 ms", "p99": "p99 ms", "max": "max ms",
          **{m: m.replace(".", " ") + " ms" for m in TIMING_METRICS}}
"""How each figure is labelled in tables, with its unit."""
_QUANTILE = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


@dataclass(frozen=True, slots=True)
class MetricChange:
    metric: str
    """``rps``, ``error_rate``, ``p50``, ``p95``, ``p99`` or ``max``; or a timing's (:data:`TIMING_METRICS`)."""
    old: float | None
    new: float | None
    change: float | None
    """Relative change (0.1 = +10%); for ``error_rate`` the difference of the fractions (0.01 = 1 point)."""
    noise: float | None
    """95% half-width of run-to-run noise, in the metric's unit (ms, per second, fraction)."""
    verdict: Verdict
    basis: tuple[str, ...] = ()
    """The noise measures that applied: ``histogram``, ``per-second``, ``count``, ``between runs``,
    ``minimum change``."""

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "old": self.old, "new": self.new, "change": self.change,
                "noise": self.noise, "verdict": self.verdict, "basis": list(self.basis)}


@dataclass(frozen=True, slots=True)
class EndpointChange:
    type: str
    name: str
    kind: str
    verdict: Verdict
    metrics: tuple[MetricChange, ...] = ()

    def metric(self, name: str) -> MetricChange:
        return next(m for m in self.metrics if m.metric == name)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "kind": self.kind, "verdict": self.verdict,
                "metrics": {m.metric: m.as_dict() for m in self.metrics}}


@dataclass
class Comparison:
    old: RunRecord
    new: RunRecord
    endpoints: list[EndpointChange] = field(default_factory=list)
    """Each endpoint of either run, then the whole run (``Aggregated``) last."""
    min_change: float = MIN_CHANGE
    """The smallest relative change that counts (see :mod:`.noise`)."""
    peers: list[RunRecord] = field(default_factory=list)
    """Other runs whose spread measured the run-to-run noise (empty: fewer than 3 were at hand)."""

    @property
    def method(self) -> str:
        return method(self.min_change)

    @property
    def total(self) -> EndpointChange:
        return self.endpoints[-1]

    @property
    def verdict(self) -> Verdict:
        """worse if any endpoint got worse; better if some got better and none worse; else same."""
        verdicts = {e.verdict for e in self.endpoints}
        return "worse" if "worse" in verdicts else "better" if "better" in verdicts else "same"

    def find(self, name: str) -> EndpointChange | None:
        return next((e for e in self.endpoints if e.name == name), None)

    @property
    def notes(self) -> list[str]:
        return [*self.old.notes, *self.new.notes]

    def as_dict(self) -> dict[str, Any]:
        def run(r: RunRecord) -> dict[str, Any]:
            return {"folder": str(r.folder), "profile": r.profile, "target": r.target, "started_at": r.started_at,
                    "duration_s": r.duration_s}

        return {"old": run(self.old), "new": run(self.new), "verdict": self.verdict, "method": self.method,
                "min_change": self.min_change, "min_error_points": MIN_ERROR_POINTS,
                "peers": [str(r.folder) for r in self.peers],
                "endpoints": [e.as_dict() for e in self.endpoints], "notes": self.notes}


def _judge(metric: str, old: float, new: float, noise: list[tuple[str, float | None]], min_change: float) -> MetricChange:
    diff = new - old
    if metric == "error_rate":
        change: float | None = diff
        floor = MIN_ERROR_POINTS
    else:
        change = diff / old if old else None
        floor = min_change * abs(old)
    applied = [(name, width) for name, width in noise if width is not None]
    band = max([floor, *(w for _, w in applied)])
    basis = tuple(name for name, _ in applied) + ("minimum change",)
    if metric == "max" or metric in TIMING_METRICS:
        return MetricChange(metric, old, new, change, None, "not judged", ())
    if abs(diff) <= band or (old == 0 and new == 0):
        verdict: Verdict = "same"
    else:
        higher_is_better = metric == "rps"
        verdict = "better" if (diff > 0) == higher_is_better else "worse"
    return MetricChange(metric, old, new, change, band, verdict, basis)


def _metric(metric: str, key: Key, old: RunRecord, new: RunRecord, min_change: float,
            peers: list[RunRecord]) -> MetricChange:
    a, b = stat_of(old.rows[key], metric), stat_of(new.rows[key], metric)
    if a is None or b is None:
        return MetricChange(metric, a, b, None, None, "no data")
    noise: list[tuple[str, float | None]] = []
    if metric in TIMING_METRICS:
        return _judge(metric, a, b, noise, min_change)
    if metric != "max":
        spread = [v for p in peers if key in p.rows and (v := stat_of(p.rows[key], metric)) is not None]
        noise.append(("between runs", between_runs(spread)))
    if metric == "rps":
        per_a = [s.rps for s in steady(old.seconds.get(key, []))]
        per_b = [s.rps for s in steady(new.seconds.get(key, []))]
        noise.append(("per-second", welch(per_a, per_b)))
        noise.append(("count", poisson_rate(old.rows[key].get("requests", 0), old.duration_s,
                                            new.rows[key].get("requests", 0), new.duration_s)))
    elif metric == "error_rate":
        ra, rb = old.rows[key], new.rows[key]
        noise.append(("count", binomial(int(ra.get("failures", 0)), int(ra.get("requests", 0)),
                                        int(rb.get("failures", 0)), int(rb.get("requests", 0)))))
    elif metric in _QUANTILE:
        ha, hb = old.histogram(key), new.histogram(key)
        if ha is not None and hb is not None and ha.get_total_count() and hb.get_total_count():
            noise.append(("histogram", quantile_halfwidth(ha, hb, _QUANTILE[metric])))
        per_a = [v for s in steady(old.seconds.get(key, [])) if (v := getattr(s, metric)) is not None]
        per_b = [v for s in steady(new.seconds.get(key, [])) if (v := getattr(s, metric)) is not None]
        noise.append(("per-second", welch(per_a, per_b)))
    return _judge(metric, a, b, noise, min_change)


def _endpoint(key: Key, old: RunRecord, new: RunRecord, min_change: float, peers: list[RunRecord]) -> EndpointChange:
    row = new.rows.get(key) or old.rows[key]
    kind = str(row.get("kind", ""))
    if key not in old.rows:
        return EndpointChange(key[0], key[1], kind, "new")
    if key not in new.rows:
        return EndpointChange(key[0], key[1], kind, "gone")
    timings = [m for m in TIMING_METRICS  # only where both runs have the timing
               if stat_of(old.rows[key], m) is not None and stat_of(new.rows[key], m) is not None]
    metrics = tuple(_metric(m, key, old, new, min_change, peers) for m in (*METRICS, *timings))
    verdicts = {m.verdict for m in metrics}
    verdict: Verdict = "worse" if "worse" in verdicts else "better" if "better" in verdicts else "same"
    return EndpointChange(key[0], key[1], kind, verdict, metrics)


def compare(old: RunRecord, new: RunRecord, min_change: float = MIN_CHANGE,
            history: Sequence[RunRecord] = ()) -> Comparison:
    """``min_change``: the smallest relative change that counts, whatever the measured noise.
    ``history``: runs to measure the run-to-run spread with; :func:`peers` picks them."""
    keys = [k for k in new.rows if k != ALL] + [k for k in old.rows if k != ALL and k not in new.rows]
    chosen = peers(history, old, new)
    return Comparison(old, new, [_endpoint(k, old, new, min_change, chosen) for k in [*keys, ALL]], min_change, chosen)


def peers(history: Sequence[RunRecord], old: RunRecord, new: RunRecord) -> list[RunRecord]:
    """The last :data:`~.noise.PEERS` runs of the history other than ``old`` and ``new``, of the same
    profile against the same target, that started before ``new``; none when fewer than 3 qualify."""
    skip = {old.folder.resolve(), new.folder.resolve()}
    chosen = [r for r in history if r.profile == new.profile and r.target_setting == new.target_setting
              and r.folder.resolve() not in skip and r.started < new.started]
    chosen = chosen[-PEERS:]
    return chosen if len(chosen) >= MIN_PEERS else []


# ---------------------------------------------------------------- terminal


def show(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "error_rate":
        return f"{value * 100:.2f}%"
    if metric == "rps":
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def show_change(m: MetricChange) -> str:
    if m.change is None:
        return "-"
    if m.metric == "error_rate":
        return f"{m.change * 100:+.2f} pt"
    return f"{m.change * 100:+.1f}%"


def show_noise(m: MetricChange) -> str:
    if m.noise is None:
        return ""
    if m.metric == "error_rate":
        return f"±{m.noise * 100:.2f} pt"
    return f"±{m.noise / abs(m.old) * 100:.1f}%" if m.old else f"±{show(m.metric, m.noise)}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  " + "  ".join(cells).rstrip())
        if j == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def endpoint_title(e: EndpointChange) -> str:
    """``GET /api/x`` for HTTP (the method once), ``WSPING WS /ws`` for the others, ``All requests`` last."""
    if (e.type, e.name) == ALL:
        return "All requests (Aggregated)"
    return e.name if e.name.startswith(e.type) else f"{e.type} {e.name}".strip()


def describe_run(run: RunRecord) -> str:
    return f"{clean(run.label)}  ({clean(run.started_at)}, {run.duration_s:.0f} s, {clean(run.target)})"


def format_comparison(c: Comparison) -> str:
    out = [f"Comparing runs of {clean(c.new.profile)}", f"  old: {describe_run(c.old)}",
           f"  new: {describe_run(c.new)}", ""]
    for e in c.endpoints:
        title = clean(endpoint_title(e))
        out.append(f"{title}: {e.verdict.upper()}")
        if e.verdict in ("new", "gone"):
            out.append("  only in the " + ("new" if e.verdict == "new" else "old") + " run")
            out.append("")
            continue
        rows = [["metric", "old", "new", "change", "verdict", "noise (95%)"]]
        for m in e.metrics:
            rows.append([LABELS[m.metric], show(m.metric, m.old), show(m.metric, m.new), show_change(m), m.verdict,
                         show_noise(m)])
        out += _table(rows)
        out.append("")
    out.append(f"Overall: {c.verdict.upper()}")
    if c.peers:
        out.append(f"Run-to-run spread from {len(c.peers)} other run(s): " + ", ".join(clean(r.label) for r in c.peers))
    out.append(f"How it was decided: {c.method}")
    for note in c.notes:
        out.append(f"note: {clean(note)}")
    return "\n".join(out)
