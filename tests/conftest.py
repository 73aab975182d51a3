"""Shared fixtures: the purpose-built test server (tests/servers.py), the demo target, a closed port, a Dask cluster."""

from __future__ import annotations

import socket

import pytest

from liminal_tui.demo import start_demo_server
from flow_servers import start_flow_server
from servers import start_garbage_server, start_reason_server, start_test_server


@pytest.fixture
async def test_server():
    """tests/servers.py on 127.0.0.1 with a free port, in the test's event loop."""
    server = await start_test_server()
    yield server
    await server.close()


@pytest.fixture
async def garbage_server():
    server = await start_garbage_server()
    yield server
    await server.close()


@pytest.fixture
async def reason_server():
    """Any status with any reason phrase, control characters included (tests/servers.py)."""
    server = await start_reason_server()
    yield server
    await server.close()


@pytest.fixture
async def flow_server():
    """tests/flow_servers.py: the shop, CAS, CSRF, upload, token, purchase, chat and Socket.IO flows."""
    server = await start_flow_server()
    yield server
    await server.close()


@pytest.fixture
async def demo_server():
    """The built-in demo target in-process, with a short WebSocket heartbeat."""
    server = await start_demo_server(heartbeat_interval=0.1)
    yield server
    await server.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def dask_cluster():
    """A real Dask LocalCluster (2 worker processes on 127.0.0.1), shared by the cluster tests that do
    not kill or freeze its workers; its scheduler's address is ``.scheduler_address``."""
    distributed = pytest.importorskip("distributed", reason="the test extra installs dask[distributed]")
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        yield cluster
