"""One vocabulary for every module: the kinds of samples, the aggregate rows' names, the percentiles.

No dependencies: the profile (thresholds), the engine and every reader import their words from here.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Kind", "KINDS", "ALL", "AGGREGATED", "SELECTOR_KINDS", "PERCENTILES", "PERCENTILE_NAMES", "TIMINGS"]


class Kind(StrEnum):
    """What a sample times. A ``str``: ``Kind.HTTP == "http"``, and it prints, pickles and serializes
    as the plain word used in profiles, CSV files and ``summary.json``."""

    HTTP = "http"
    """One HTTP request, sent to the complete response."""
    WS_CONNECT = "ws_connect"
    """Opening a WebSocket, handshake included."""
    WS_PING = "ws_ping"
    """A heartbeat's round trip (ping to pong)."""
    WS_MESSAGE = "ws_message"
    """A ``ws_wait``: from the awaited cause (e.g. an update) to the matching message's arrival."""


KINDS: tuple[Kind, ...] = tuple(Kind)
"""Every kind, in the order tables show them."""

ALL = "all"
"""The kind of the run-wide aggregate row (every kind together); a threshold key may name it."""

AGGREGATED = "Aggregated"
"""The name shown for aggregate rows (Locust's word, kept in the CSV files)."""

SELECTOR_KINDS: tuple[str, ...] = (ALL, *KINDS)
"""What a threshold key may start with."""

PERCENTILES: tuple[float, ...] = (50.0, 66.0, 75.0, 80.0, 90.0, 95.0, 98.0, 99.0, 99.9, 99.99, 100.0)
"""The percentiles every latency record carries, in order (Locust's CSV columns)."""

PERCENTILE_NAMES: tuple[str, ...] = tuple(f"p{p:g}" for p in PERCENTILES if p < 100.0)
"""``p50`` ... ``p99.99``: the percentile stats a threshold may name (``p100`` is spelled ``max``)."""

TIMINGS: tuple[str, ...] = ("connect", "tls", "ttfb", "delivery")
"""The timings an endpoint keeps beside its total, in the order every record carries them: TCP connect, TLS
handshake, first byte (HTTP), and delivery (a WebSocket message: arrival minus the server's send stamp).
The same words name them in ``summary.json`` (``timings_ms``), ``timings.csv`` and threshold rules
(``delivery.p99 < 20ms``)."""
