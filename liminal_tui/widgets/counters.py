"""Connection counters: HTTP connections, WebSockets, messages, heartbeat RTT, broadcast latency and (messages
with a send stamp) delivery."""

from __future__ import annotations

from textual.content import Content

from ..metrics.snapshot import EndpointStats, Snapshot
from ..metrics.kinds import Kind
from .columns import ColumnsPanel
from .units import count, ms, per_s

__all__ = ["ConnectionCounters"]


def _latency(stats: EndpointStats | None, *percentiles: float) -> str:
    if stats is None or stats.latency.count == 0:
        return "-"
    names = {50.0: "p50", 95.0: "p95", 99.0: "p99"}
    return " · ".join(f"{names[p]} {ms(stats.latency.pct(p))}" for p in percentiles)


class ConnectionCounters(ColumnsPanel):
    """Open connections and WebSocket traffic of the current snapshot."""

    DEFAULT_CSS = """
    ConnectionCounters {
        border: round $panel;
        border-title-color: $text-accent;
        height: auto;
        padding: 0 1;
    }
    """

    def on_mount(self) -> None:
        self.border_title = "Connections"
        self.show_rows((), lead=Content.styled("waiting for the first tick", "dim"))

    def update_snapshot(self, s: Snapshot) -> None:
        tick = max(s.interval, 1e-9)
        ws, wi = s.ws, s.ws_interval
        ping = s.find(Kind.WS_PING, total=False) or s.find(Kind.WS_PING)
        broadcast = s.find(Kind.WS_MESSAGE, total=False) or s.find(Kind.WS_MESSAGE)
        rows = [
            ("HTTP connections", f"{count(s.http_connections)} open"),
            ("WS open", f"{count(ws.open)} sockets"),
            ("WS connects", f"{count(ws.connects)} total · {per_s(wi.connects / tick)}"),
            ("reconnects", f"{count(ws.reconnects)} total · {count(ws.drops)} drops"),
            ("messages in", f"{count(ws.messages_in)} total · {per_s(wi.messages_in / tick)}"
                            + (f" · {count(ws.messages_timed_at_read)} timed at read" if ws.messages_timed_at_read else "")),
            ("messages out", f"{count(ws.messages_out)} total · {per_s(wi.messages_out / tick)}"),
            ("heartbeat RTT", _latency(ping, 50.0, 99.0)),
            ("broadcast latency", _latency(broadcast, 50.0, 95.0, 99.0)),
            *([("delivery (stamp)", " · ".join(f"{n} {ms(broadcast.delivery.pct(p))}" for n, p in
                                               (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))))]
              if broadcast is not None and broadcast.delivery is not None else []),
            ("iterations", f"{count(s.iterations)} total" + (f" · {count(s.dropped)} dropped" if s.model == "open" else "")),
        ]
        self.show_rows(rows)
