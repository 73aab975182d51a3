"""An HTTP/2 server over TLS for tests, on the ``h2`` library (server side) and asyncio, on 127.0.0.1.

``start_h2_server(certs, max_streams=..., client_ca=...)`` answers on https://127.0.0.1:<free port> (ALPN ``h2`` only)
and counts what it saw: ``connections``, ``counts`` per path, ``peak_streams`` (most streams open at once
on one connection). It honours flow control both ways (a request body larger than its 64 KiB window, a
response larger than the client's), and misbehaves on request:

    /ok                 200 "ok"
    /echo               200, the request body back (Content-Type application/json)
    /big/<n>            200, n bytes
    /delay/<ms>         200 after ms milliseconds
    /set-cookie         200 with ``Set-Cookie: session=h2``;  /whoami: 200 with the Cookie header sent
    /redirect           302 to /ok
    /reset              RST_STREAM INTERNAL_ERROR
    /goaway             GOAWAY (ENHANCE_YOUR_CALM) naming the stream before this one as the last processed,
                        then the connection closes: the stream was not processed
    /drain              GOAWAY (NO_ERROR) naming this stream as the last: it is answered, then the close
    /never              no answer at all
"""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter

import h2.config
import h2.connection
import h2.events
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from tls_servers import Certs


class H2Server:
    __test__ = False

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max_streams
        self.connections = 0
        self.counts: Counter[str] = Counter()
        self.peak_streams = 0
        self.server: asyncio.base_events.Server | None = None
        self.url = ""
        self.transports: set[asyncio.BaseTransport] = set()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            for transport in list(self.transports):
                transport.abort()
            await self.server.wait_closed()


class _Conn(asyncio.Protocol):
    def __init__(self, server: H2Server) -> None:
        self.server = server
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport: asyncio.Transport | None = None
        self.requests: dict[int, tuple[dict, bytearray]] = {}
        self.pending: dict[int, memoryview] = {}  # response bodies waiting for the client's window
        self.open = 0
        self.active: set[int] = set()
        """Streams taken for processing and not answered yet."""
        self.last: int | None = None
        """After our GOAWAY: the last stream processed; later ones are ignored (the client sends them again)."""

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        self.server.transports.add(transport)
        self.server.connections += 1
        self.h2.initiate_connection()
        self.h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: self.server.max_streams})
        self.flush()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        for ev in self.h2.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                if self.last is not None and ev.stream_id > self.last:
                    continue
                self.active.add(ev.stream_id)
                self.open += 1
                self.server.peak_streams = max(self.server.peak_streams, self.open)
                self.requests[ev.stream_id] = (dict(ev.headers), bytearray())
            elif isinstance(ev, h2.events.DataReceived):
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if ev.stream_id in self.requests:
                    self.requests[ev.stream_id][1].extend(ev.data)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id in self.requests:
                headers, body = self.requests.pop(ev.stream_id)
                asyncio.get_running_loop().create_task(self.answer(ev.stream_id, headers, bytes(body)))
            elif isinstance(ev, h2.events.StreamReset) and ev.stream_id in self.active:
                self.requests.pop(ev.stream_id, None)
                self.pending.pop(ev.stream_id, None)
                self.done(ev.stream_id)
            elif isinstance(ev, h2.events.WindowUpdated):
                for sid, view in list(self.pending.items()):
                    del self.pending[sid]
                    self.send_body(sid, view)
        self.flush()

    async def answer(self, sid: int, headers: dict, body: bytes) -> None:
        if self.last is not None and sid > self.last:  # came with the request that sent the GOAWAY
            self.done(sid)
            return
        path = headers[":path"]
        self.server.counts[path.split("?")[0] if not path.startswith(("/big/", "/delay/")) else path.rsplit("/", 1)[0]] += 1
        extra: list[tuple[str, str]] = []
        status, out = 200, b"ok"
        if path == "/echo":
            out, extra = body, [("content-type", "application/json")]
        elif path.startswith("/big/"):
            out = b"x" * int(path[5:])
        elif path.startswith("/delay/"):
            await asyncio.sleep(int(path[7:]) / 1000)
        elif path == "/set-cookie":
            extra = [("set-cookie", "session=h2; Path=/")]
        elif path == "/whoami":
            out = headers.get("cookie", "").encode()
        elif path == "/redirect":
            status, extra = 302, [("location", "/ok")]
        elif path == "/reset":
            self.h2.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)
            self.flush()
            self.done(sid)
            return
        elif path in ("/goaway", "/drain"):  # /drain: a graceful GOAWAY that spares this stream
            goaway = path == "/goaway"
            self.last = sid - 2 if goaway else sid
            self.h2.close_connection(ErrorCodes.ENHANCE_YOUR_CALM if goaway else ErrorCodes.NO_ERROR,
                                     last_stream_id=max(self.last, 0))
            self.h2.state_machine.state = h2.connection.ConnectionState.SERVER_OPEN  # h2 would send no more
            self.flush()
            if goaway:
                self.done(sid)
                return
        elif path == "/never":
            return
        if self.transport is None or self.transport.is_closing():
            return
        self.h2.send_headers(sid, [(":status", str(status)), ("content-length", str(len(out))), *extra],
                             end_stream=not out)
        if out:
            self.send_body(sid, memoryview(out))
        else:
            self.done(sid)
        self.flush()

    def send_body(self, sid: int, view: memoryview) -> None:
        while view:
            try:
                n = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size, len(view))
            except h2.exceptions.StreamClosedError:
                return
            if n <= 0:
                self.pending[sid] = view
                return
            self.h2.send_data(sid, bytes(view[:n]), end_stream=n == len(view))
            view = view[n:]
        self.done(sid)

    def done(self, sid: int) -> None:
        """A stream answered (or reset): after a GOAWAY, the connection closes with the last one."""
        if sid in self.active:
            self.active.discard(sid)
            self.open -= 1
        if self.last is not None and not self.active and self.transport is not None:
            self.flush()
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.transports.discard(self.transport)
        self.transport = None


async def start_h2_server(certs: Certs | None, max_streams: int = 100, client_ca: bool = False) -> H2Server:
    """``certs=None``: cleartext HTTP/2 (h2c, prior knowledge) on http://127.0.0.1:<port>."""
    server = H2Server(max_streams)
    loop = asyncio.get_running_loop()
    if certs is None:
        server.server = await loop.create_server(lambda: _Conn(server), "127.0.0.1", 0)
        server.url = f"http://127.0.0.1:{server.server.sockets[0].getsockname()[1]}"
        return server
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.server_cert, certs.server_key)
    if client_ca:  # mutual TLS: a client certificate signed by the test CA is required
        ctx.load_verify_locations(certs.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    server.server = await loop.create_server(lambda: _Conn(server), "127.0.0.1", 0, ssl=ctx)
    server.url = f"https://127.0.0.1:{server.server.sockets[0].getsockname()[1]}"
    return server
