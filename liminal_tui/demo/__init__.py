"""Built-in demo target: a small in-memory "memories" HTTP + WebSocket API."""

from liminal_tui.demo.process import DemoProcess
from liminal_tui.demo.store import MAX_MEMORIES
from liminal_tui.demo.server import (
    DemoServer,
    make_app,
    serve_forever,
    start_demo_server,
)

__all__ = [
    "MAX_MEMORIES",
    "DemoProcess",
    "DemoServer",
    "make_app",
    "serve_forever",
    "start_demo_server",
]
