"""The headless reader: a progress line on stderr while running, a summary on stdout at the end."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from .metrics.events import StopCause
from .metrics.judge import outcome_text
from .metrics.kinds import AGGREGATED, ALL, Kind
from .metrics.snapshot import TIMED_AT_READ_CAUSES, EndpointStats, Snapshot
from .profile.thresholds import Verdict

__all__ = ["ProgressPrinter", "format_summary"]


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressPrinter:
    """A bus callback. On a terminal: one line rewritten each tick; elsewhere a plain line every few seconds."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 1.0 if self.tty else every
        self._last = 0.0
        self._width = 0

    def on_snapshot(self, snap: Snapshot) -> None:
        now = time.monotonic()
        for event in snap.events:
            self._line(f"[{_clock(snap.elapsed)}] {event}", keep=True)
        if snap.final or now - self._last < self.every:
            return
        self._last = now
        self._line(self.progress(snap))

    @staticmethod
    def progress(snap: Snapshot) -> str:
        interval = snap.find(Kind.HTTP, total=False)
        total = snap.find(Kind.HTTP)
        load = f"users {snap.users}/{snap.target_load:.0f}" if snap.model == "closed" else f"rate {snap.target_load:g}/s in-flight {snap.users}"
        parts = [f"{_clock(snap.elapsed)}/{_clock(snap.duration)}", snap.phase, load]
        if interval is not None:
            lat = interval.latency
            parts.append(f"{interval.rps:.1f} req/s  p50 {lat.p50:.1f} ms  p95 {lat.p95:.1f} ms  p99 {lat.p99:.1f} ms")
        else:
            parts.append("0.0 req/s")
        parts.append(f"errors {(total.error_rate if total else 0) * 100:.2f}%")
        if snap.ws.connects:
            parts.append(f"ws {snap.ws.open} open")
        if snap.saturated:
            parts.append("GENERATOR SATURATED")
        return " | ".join(parts)

    def _line(self, text: str, keep: bool = False) -> None:
        if self.tty:
            pad = " " * max(0, self._width - len(text))
            self.stream.write("\r" + text + pad + ("\n" if keep else ""))
            self._width = 0 if keep else len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def _table(headers: list[str], rows: list[list[str]], align_left: int = 2) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < align_left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return [fmt(headers), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]


def format_summary(final: Snapshot, verdicts: list[Verdict], report_dir: str | None, notes: list[str],
                   health: Any = None) -> str:
    out: list[str] = []
    secs = max(final.elapsed, 1e-9)
    out.append(f"liminal-tui: {final.profile} against {final.target} - {_clock(final.elapsed)} ({final.stop_reason or StopCause.COMPLETED})")
    out.append(f"Outcome: {outcome_text(final.stop_reason, verdicts)}")
    out.append("")
    rows = []
    table = final.total_stats
    listed: list[tuple[EndpointStats, str]] = []
    for agg in table.aggregates:  # each kind's endpoints, then its aggregate (the run-wide one is left out)
        if agg.kind != ALL:
            listed += [(s, s.name) for s in table.endpoints if s.kind == agg.kind]
            listed.append((agg, f"{AGGREGATED} ({agg.kind})"))
    for s, name in listed:
        lat = s.latency  # successes; "-" for an endpoint without one (never a 0.0 that was not measured)
        times = [f"{v:.1f}" if lat.count else "-" for v in (lat.p50, lat.p90, lat.p95, lat.p99, lat.max)]
        rows.append([
            s.method or s.kind, name, str(s.total), str(s.failures), str(s.skipped), f"{s.total / secs:.1f}",
            *times, f"{s.avg_bytes:.0f}",
        ])
    out += _table(["Type", "Name", "Requests", "Fails", "Skipped", "RPS", "p50 ms", "p90 ms", "p95 ms", "p99 ms",
                   "max ms", "avg B"], rows)
    out.append("(latency of successful requests; every sample, failures included, in results_stats.csv)")
    http = final.find(Kind.HTTP)
    if http is not None and http.service is not None and http.service.count:
        out.append(f"open model: corrected p99 {http.latency.p99:.1f} ms, uncorrected (service time) p99 {http.service.p99:.1f} ms")
    if final.dropped:
        out.append(f"dropped arrivals: {final.dropped}")
    if final.errors:
        out.append("")
        out.append("Failures:")
        for e in final.errors[:15]:
            out.append(f"  {e.count:>7}  {e.method or e.kind} {e.name}: {e.error}" + (f" ({e.message})" if e.message else ""))
        if len(final.errors) > 15:
            out.append(f"  ... {len(final.errors) - 15} more kinds in the report")
    ws = final.ws
    if ws.connects or ws.messages_in:
        ping, msg = final.find(Kind.WS_PING), final.find(Kind.WS_MESSAGE)
        out.append("")
        out.append(f"WebSocket: {ws.peak_open} open at peak, {ws.connects} connects, {ws.reconnects} reconnects, {ws.drops} drops, "
                   f"{ws.messages_in} messages in, {ws.messages_out} out")
        if ws.messages_timed_at_read:
            out.append(f"  {ws.messages_timed_at_read} of {ws.messages_in} messages in timed at the worker's read, "
                       f"not at their arrival ({TIMED_AT_READ_CAUSES})")
        if ping and ping.count:
            out.append(f"  heartbeat RTT p50 {ping.latency.p50:.2f} ms, p99 {ping.latency.p99:.2f} ms")
        if msg and msg.count:
            out.append(f"  message latency p50 {msg.latency.p50:.2f} ms, p95 {msg.latency.p95:.2f} ms, p99 {msg.latency.p99:.2f} ms")
        d = msg.delivery if msg is not None else None
        if d is not None and d.count:
            out.append(f"  delivery from the send stamp ({d.count} messages) p50 {d.p50:.2f} ms, p90 {d.pct(90.0):.2f} ms, "
                       f"p99 {d.p99:.2f} ms, max {d.max:.2f} ms")
    if verdicts:
        out.append("")
        out.append("Thresholds:")
        for v in verdicts:
            out.append(f"  {v.describe()}")
    peaks = sorted(health.workers.values(), key=lambda w: w.worker) if health is not None else final.health
    if peaks:
        out.append("")
        out.append("Generator (worst tick): " + ", ".join(
            f"{h.label} CPU {h.cpu_percent:.0f}% loop lag {h.loop_lag_ms:.1f} ms" for h in peaks))
    for note in notes:
        out.append(f"WARNING: {note}" if "saturated" in note else f"note: {note}")
    if report_dir:
        out.append("")
        out.append(f"Report: {report_dir}")
    return "\n".join(out)
