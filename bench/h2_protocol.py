"""What a faster HTTP/2 path would cost: the ``h2`` library on an asyncio Protocol, beside httpx.

    python bench/h2_protocol.py            # 20,000 requests (h2 Protocol), 3,000 (httpx)
    python bench/h2_protocol.py --quick    # 5,000 / 1,000

A measuring prototype, not the engine: one TLS connection (ALPN h2, the loop's own TLS as the fast
HTTP/1.1 client uses it) carrying 50 concurrent streams of ``GET /`` against the bench nginx with http2
(CPU 0), this process on CPU 1, uvloop. The h2 state machine and HPACK are pure Python (``h2``, ``hpack``,
installed with ``httpx[http2]``); the loop does the rest. Then the engine's ``HttpxClient`` (``http2 = true``)
the same way. Prints requests/s and CPU per request (this process, user+sys) of each.

Only 127.0.0.1 is contacted; every case is bounded by its count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, Nginx, ensure_apt, log  # noqa: E402

USERS = 50


class H2Conn(asyncio.Protocol):
    """One HTTP/2 connection: requests are streams; a response completes its stream's future."""

    def __init__(self, authority: bytes) -> None:
        import h2.config
        import h2.connection
        import h2.events

        self.ev = h2.events
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.authority = authority
        self.streams: dict[int, list] = {}
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport

    def start(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        ev = self.ev
        for event in self.h2.receive_data(data):
            if isinstance(event, ev.ResponseReceived):
                st = self.streams.get(event.stream_id)
                if st is not None:
                    st[1] = int(dict(event.headers)[b":status"])
            elif isinstance(event, ev.DataReceived):
                st = self.streams.get(event.stream_id)
                if st is not None:
                    st[2].append(event.data)
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, ev.StreamEnded):
                st = self.streams.pop(event.stream_id, None)
                if st is not None and not st[0].done():
                    st[0].set_result((st[1], b"".join(st[2])))
            elif isinstance(event, ev.StreamReset):
                st = self.streams.pop(event.stream_id, None)
                if st is not None and not st[0].done():
                    st[0].set_exception(RuntimeError(f"stream reset {event.error_code}"))
        out = self.h2.data_to_send()
        if out:
            self.transport.write(out)  # type: ignore[union-attr]

    def request(self, path: bytes) -> asyncio.Future:
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(b":method", b"GET"), (b":path", path), (b":scheme", b"https"),
                                   (b":authority", self.authority), (b"user-agent", b"liminal-tui")], end_stream=True)
        self.transport.write(self.h2.data_to_send())  # type: ignore[union-attr]
        fut = self.loop.create_future()
        self.streams[sid] = [fut, 0, []]
        return fut


async def run_h2(host: str, port: int, cert: Path, count: int) -> dict:
    loop = asyncio.get_running_loop()
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.set_alpn_protocols(["h2"])
    conn = H2Conn(f"{host}:{port}".encode())
    transport, _ = await loop.create_connection(lambda: conn, host, port)
    tls = await loop.start_tls(transport, conn, ctx, server_hostname=host)
    assert tls.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
    conn.start(tls)
    return await _drive(lambda: conn.request(b"/"), count, lambda: tls.close())


async def run_httpx(url: str, cert: Path, count: int) -> dict:
    from liminal_tui.engine.clients.http import HttpxClient
    from liminal_tui.profile.models import HttpSettings

    client = HttpxClient(HttpSettings(http2=True, ca_bundle=str(cert)))

    async def one():  # type: ignore[no-untyped-def]
        status, _, body, _ = await client.request("GET", url, None, None, None, None)
        return status, body

    result = await _drive(one, count, None)
    await client.close()
    return result


async def _drive(one, count: int, close) -> dict:  # type: ignore[no-untyped-def]
    left = [50]  # warm-up

    async def user() -> None:
        while left[0] > 0:
            left[0] -= 1
            status, _ = await one()
            assert status == 200, status

    await asyncio.gather(*(user() for _ in range(5)))
    left[0] = count
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(user() for _ in range(USERS)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    if close is not None:
        close()
    return {"requests": count, "rps": round(count / wall, 1), "cpu_us_per_req": round(cpu / count * 1e6, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    count_h2, count_httpx = (5000, 1000) if args.quick else (20000, 3000)
    ensure_apt("nginx")
    os.sched_setaffinity(0, {1} if (os.cpu_count() or 1) > 1 else {0})
    import uvloop

    rows = {}
    with Nginx(cpu=0) as nginx:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            rows["h2 on a Protocol"] = runner.run(run_h2("127.0.0.1", nginx.h2_port, nginx.cert, count_h2))
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            rows["httpx (http2 = true)"] = runner.run(run_httpx(nginx.h2_url + "/", nginx.cert, count_httpx))
    for key, row in rows.items():
        log(f"{key:22s} {row['rps']:>9,.0f} req/s  {row['cpu_us_per_req']:>7,.0f} us CPU/req  ({row['requests']} requests)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "h2_protocol.json").write_text(json.dumps({"loadavg_before": os.getloadavg()[0], "cases": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
