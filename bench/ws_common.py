"""Helpers the WebSocket benches share (bench/websockets_10k.py, bench/ws_fanout.py)."""

from __future__ import annotations

import os
import resource

ECHO_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_echo_server.py")
"""The echo server script (bench/ws_echo_server.py)."""


def percentile(sorted_values: list[int], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def raise_nofile(need: int) -> tuple[int, int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit. Returns (before, after, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard


def workers_of(pid: int) -> list:
    import psutil

    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for p in kids:
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in cmd and "resource_tracker" not in cmd:
            out.append(p)
    return out
