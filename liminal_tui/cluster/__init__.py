"""Runs spread over many hosts, on Dask distributed (the optional extra ``liminal-tui[cluster]``).

    coordinator (this process)                          each Dask worker ("host")
    Run ──► ClusterPool ──actor calls──► Agent (actor) ──► its own thread and loop ──► ProcessPool
        ◄── one merged IntervalReport per host and tick ◄── (reports of its worker processes, merged)

:class:`~.pool.ClusterPool` is a third :class:`~liminal_tui.engine.pool.WorkerPool`: the run, the
aggregator, the bus and every reader see hosts as workers and never know Dask ran them. Nothing here
imports Dask at import time: only ``--cluster`` loads :mod:`.pool` (which does).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ["ClusterError", "ClusterAddress", "parse_cluster", "require_dask", "INSTALL_HINT", "VERSION_ENV"]

INSTALL_HINT = "pip install 'liminal-tui[cluster]'"
VERSION_ENV = "LIMINAL_TUI_AGENT_VERSION"
"""Read by the agent on each host: the liminal-tui version it reports instead of its own (tests of the
version check; never set it in production)."""


class ClusterError(Exception):
    """The cluster cannot run this; ``str()`` is one line for the user, ``exit_code`` the CLI's code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ClusterAddress:
    """Where the hosts are: a running scheduler (``tcp://HOST:PORT``) or a LocalCluster here (``local:N``)."""

    scheduler: str | None = None
    """The scheduler's address, e.g. ``tcp://10.0.0.5:8786``; None for a local cluster."""
    local_workers: int = 0
    """``local:N``: N Dask worker processes on 127.0.0.1 (testing, or one big box)."""

    def __str__(self) -> str:
        return self.scheduler or f"local:{self.local_workers}"


def parse_cluster(value: str) -> ClusterAddress:
    """``tcp://HOST:PORT`` (or tls://, ws://, ...) or ``local:N``; ValueError says what was expected."""
    value = value.strip()
    if value.startswith("local:"):
        try:
            n = int(value[len("local:"):])
        except ValueError:
            raise ValueError(f"expected local:N (a number of Dask workers), got {value!r}") from None
        if n < 1:
            raise ValueError("local:N needs N >= 1")
        return ClusterAddress(local_workers=n)
    scheme, sep, rest = value.partition("://")
    host, _, port = rest.rpartition(":")
    if not sep or not scheme or not host or not port.isdigit():
        raise ValueError(f"expected tcp://HOST:PORT (the Dask scheduler) or local:N, got {value!r}")
    return ClusterAddress(scheduler=value)


def require_dask() -> None:
    """Raise :class:`ClusterError` (exit 2) with the install command when Dask distributed is missing."""
    if importlib.util.find_spec("distributed") is None:
        raise ClusterError(f"--cluster needs Dask distributed, which is not installed: {INSTALL_HINT}")
