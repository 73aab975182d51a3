"""Live metrics for Prometheus, read from the bus (prometheus-client serves and formats them).

Bound to 127.0.0.1 unless told otherwise. Metrics (labels ``kind``, ``name``, ``method``):
``liminal_requests_total``, ``liminal_failures_total``, ``liminal_latency_seconds`` (histogram of the
whole run, buckets from the run's percentiles), ``liminal_latency_quantile_seconds{quantile}``,
``liminal_rps``, ``liminal_active_users``, ``liminal_target_load``, ``liminal_ws_connections``,
``liminal_ws_messages_total{direction}``, ``liminal_ws_reconnects_total``, ``liminal_generator_cpu_percent``,
``liminal_generator_loop_lag_seconds``.
"""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import start_http_server

from .metrics.snapshot import Snapshot
from .metrics.kinds import PERCENTILES

__all__ = ["PrometheusExporter"]


class _SnapshotCollector:
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Any]:
        snap = self.snapshot
        if snap is None:
            return
        labels = ["kind", "name", "method"]
        requests = CounterMetricFamily("liminal_requests", "Requests (successes and failures) by endpoint", labels=labels)
        failures = CounterMetricFamily("liminal_failures", "Failed requests by endpoint", labels=labels)
        rps = GaugeMetricFamily("liminal_rps", "Requests per second over the last interval", labels=labels)
        quant = GaugeMetricFamily("liminal_latency_quantile_seconds", "Latency percentiles of successes, whole run",
                                  labels=labels + ["quantile"])
        table, now = snap.total_stats, snap.interval_stats
        rows = [(s, now.endpoint(s.kind, s.name)) for s in table.endpoints]
        rows += [(s, now.aggregate(s.kind)) for s in table.aggregates]
        for s, current in rows:
            values = [s.kind, s.name, s.method]
            requests.add_metric(values, s.total)
            failures.add_metric(values, s.failures)
            rps.add_metric(values, current.rps if current else 0.0)
            if s.latency.count:
                for p, v in zip(PERCENTILES, s.latency.percentiles):
                    quant.add_metric(values + [f"{p / 100:g}"], v / 1000.0)
        hist = HistogramMetricFamily("liminal_latency_seconds", "Latency of successes, whole run", labels=labels)
        for s, _ in rows:
            if s.buckets:
                buckets = [(f"{bound / 1000:g}", n) for bound, n in s.buckets] + [("+Inf", s.latency.count)]
                hist.add_metric([s.kind, s.name, s.method], buckets, s.latency.mean * s.latency.count / 1000.0)
        yield requests
        yield failures
        yield rps
        yield quant
        yield hist
        yield GaugeMetricFamily("liminal_active_users", "Virtual users (closed) or iterations in flight (open)", value=snap.users)
        yield GaugeMetricFamily("liminal_target_load", "Users or iterations/s the load model asks for", value=snap.target_load)
        yield GaugeMetricFamily("liminal_elapsed_seconds", "Seconds since load started", value=snap.elapsed)
        yield GaugeMetricFamily("liminal_ws_connections", "Open WebSocket connections", value=snap.ws.open)
        yield CounterMetricFamily("liminal_ws_connects", "WebSocket connects", value=snap.ws.connects)
        yield CounterMetricFamily("liminal_ws_reconnects", "WebSocket reconnects after a drop", value=snap.ws.reconnects)
        msgs = CounterMetricFamily("liminal_ws_messages", "WebSocket messages", labels=["direction"])
        msgs.add_metric(["in"], snap.ws.messages_in)
        msgs.add_metric(["out"], snap.ws.messages_out)
        yield msgs
        yield CounterMetricFamily("liminal_ws_messages_timed_at_read", "WebSocket messages in timed when read, "
                                  "not from the kernel's arrival stamp", value=snap.ws.messages_timed_at_read)
        # A cluster run's workers are hosts: ``host`` carries the name (empty for a local worker process).
        cpu = GaugeMetricFamily("liminal_generator_cpu_percent", "CPU of each worker (100 = one core)", labels=["worker", "host"])
        lag = GaugeMetricFamily("liminal_generator_loop_lag_seconds", "Worst event-loop lag of the last tick", labels=["worker", "host"])
        for h in snap.health:
            cpu.add_metric([str(h.worker), h.host], h.cpu_percent)
            lag.add_metric([str(h.worker), h.host], h.loop_lag_ms / 1000.0)
        yield cpu
        yield lag


class PrometheusExporter:
    """Serves the latest snapshot at ``http://HOST:PORT/metrics``; ``on_snapshot`` is a bus callback."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9646) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._collector = _SnapshotCollector()
        self.registry.register(self._collector)  # type: ignore[arg-type]
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self.host = host
        self.port = self._server.server_port

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self._collector.snapshot = snapshot

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
