"""The demo target's WebSocket clients: each fed by its own queue, so no client can stall another.

A broadcast is encoded once and stamped (:mod:`.fanout`); each client's send of it is timed."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from aiohttp import ClientError, WSCloseCode, WSMsgType, web

from .fanout import Broadcast, FanoutStats
from .store import Memory, Stats

__all__ = ["WsHub", "CLIENT_QUEUE_SIZE", "SEND_TIMEOUT"]

CLIENT_QUEUE_SIZE = 1024  # frames queued per WebSocket client before it is dropped
SEND_TIMEOUT = 1.0  # seconds one frame may take before its client is dropped


class _Client:
    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None, group: Any = None) -> None:
        self.ws, self.transport, self.dropped = ws, transport, False
        self.group = group
        """Its group's delivery histogram (:meth:`.fanout.FanoutStats.group`), or None."""
        self.queue: asyncio.Queue[str | bytes | Broadcast] = asyncio.Queue(CLIENT_QUEUE_SIZE)
        self.task: asyncio.Task[None] | None = None


class WsHub:
    """Connected WebSocket clients, each fed by its own queue and sender task.

    Queueing never blocks, so a slow client cannot stall HTTP handlers or other
    clients; a client whose queue overflows or whose send fails or stalls is dropped.
    """

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.clients: set[_Client] = set()
        self.fanout = FanoutStats()
        """The server's own timing of its broadcasts (``/_stats``: ``broadcasts``)."""
        self._kicks: set[asyncio.Task[None]] = set()

    def add(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None,
            group: str | None = None) -> _Client:
        """A client connected; ``group``: the name its broadcasts are also timed under (``/ws?group=``)."""
        client = _Client(ws, transport, self.fanout.group(group))
        self.clients.add(client)
        self.stats.ws_connects += 1
        client.task = asyncio.create_task(self._pump(client))
        self.send(client, {"type": "hello", "clients": len(self.clients)})
        return client

    async def remove(self, client: _Client) -> None:
        self.clients.discard(client)
        if client.task is not None:
            client.task.cancel()
            await asyncio.gather(client.task, return_exceptions=True)
        self._abandon(client)

    def send(self, client: _Client, payload: Memory | str | bytes | Broadcast) -> None:
        try:
            client.queue.put_nowait(json.dumps(payload) if isinstance(payload, dict) else payload)
        except asyncio.QueueFull:
            if isinstance(payload, Broadcast):
                self.fanout.sent(payload, ok=False)
            self.drop(client)

    def broadcast(self, payload: dict[str, Any]) -> None:
        """Send ``payload`` to every client, stamped with its send time (``sent_ns``), encoded once.

        The clients are served from a random point of their list each time: a client's place in the
        fan-out (first or last of 1,000) changes with every broadcast instead of being fixed for life,
        so any few clients see the latency of all (and ``bench/ws_fanout.py``'s anchor is a fair sample)."""
        clients = list(self.clients)
        if len(clients) > 1:
            turn = random.randrange(len(clients))
            clients = clients[turn:] + clients[:turn]
        bc = Broadcast(payload, len(clients))
        self.fanout.started(bc)
        for client in clients:
            self.send(client, bc)

    def _abandon(self, client: _Client) -> None:
        """Broadcasts still queued for a client that is gone will not be sent: count them as failed."""
        queue = client.queue
        while not queue.empty():
            item = queue.get_nowait()
            if isinstance(item, Broadcast):
                self.fanout.sent(item, ok=False)

    def drop(self, client: _Client) -> None:
        """Forget ``client`` and close its connection in the background."""
        if not client.dropped:
            client.dropped = True
            self.clients.discard(client)
            self._abandon(client)
            task = asyncio.create_task(self._kick(client))
            self._kicks.add(task)
            task.add_done_callback(self._kicks.discard)

    async def close_all(self) -> None:
        for client in list(self.clients):
            self.drop(client)
        await asyncio.gather(*self._kicks, return_exceptions=True)

    async def _pump(self, client: _Client) -> None:
        ws = client.ws
        try:
            while True:
                data = await client.queue.get()
                if isinstance(data, Broadcast):
                    try:
                        async with asyncio.timeout(SEND_TIMEOUT):  # no task per send, as wait_for makes
                            await ws.send_frame(data.frame, WSMsgType.TEXT)
                    except BaseException:
                        self.fanout.sent(data, ok=False)
                        raise
                    self.fanout.sent(data, group=client.group)
                else:
                    async with asyncio.timeout(SEND_TIMEOUT):
                        await (ws.send_bytes(data) if isinstance(data, bytes) else ws.send_str(data))
                self.stats.ws_messages_out += 1
        except Exception:  # connection reset, send timeout, ...
            self.drop(client)

    @staticmethod
    async def _kick(client: _Client) -> None:
        try:
            await asyncio.wait_for(client.ws.close(code=WSCloseCode.GOING_AWAY), SEND_TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError, ClientError):
            pass  # a client being dropped: the transport is aborted below either way
        if client.transport is not None:  # drop whatever is still buffered for it
            client.transport.abort()
