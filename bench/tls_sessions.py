"""What TLS session resumption saves: CPU per new https:// connection, full handshakes against resumed ones.

    python bench/tls_sessions.py            # 2,000 connections per case
    python bench/tls_sessions.py --quick    # 300

Against the bench nginx (self-signed certificate, CPU 0), this process on CPU 1 opens connections one
after another with the fast client (one request each, then closed), on uvloop and on asyncio,
with the worker's context as built (sessions kept and resumed) and with resumption turned off (the kept
sessions dropped before each connection). Prints connections/s, CPU per connection (this process, user+sys),
the median TLS handshake time the client recorded, and how many handshakes resumed a session.

Only 127.0.0.1 is contacted; every case is bounded by its count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, Nginx, ensure_apt, log  # noqa: E402


async def case(url: str, cert: Path, count: int, resume: bool) -> dict:
    from liminal_tui.engine.clients.fasthttp import FastHttpClient
    from liminal_tui.profile.models import HttpSettings

    client = FastHttpClient(HttpSettings(ca_bundle=str(cert)))
    handshakes, resumed = [], 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        if not resume and client._tls is not None:
            client._tls.sessions.clear()
        status, _, _, headers = await client.request("GET", url, None, None, None, None)
        assert status == 200, status
        handshakes.append(headers.tls_ns / 1e6)
        resumed += client.tls_sessions_reused()
        for pool in client._pools.values():  # close it: the next request opens a new connection
            for conn in pool:
                conn.transport.close()
            pool.clear()
        await asyncio.sleep(0)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    await client.close()
    return {"connections": count, "per_s": round(count / wall, 1), "cpu_us_per_conn": round(cpu / count * 1e6, 1),
            "handshake_p50_ms": round(statistics.median(handshakes), 3), "resumed": resumed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--count", type=int)
    args = ap.parse_args()
    count = max(50, min(args.count or (300 if args.quick else 2000), 20000))
    ensure_apt("nginx")
    os.sched_setaffinity(0, {1} if (os.cpu_count() or 1) > 1 else {0})
    rows = {}
    with Nginx(cpu=0) as nginx:
        for loop_name in ("uvloop", "asyncio"):
            for resume in (True, False):
                if loop_name == "uvloop":
                    import uvloop

                    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
                else:
                    runner = asyncio.Runner()
                with runner:
                    row = runner.run(case(nginx.https_url + "/", nginx.cert, count, resume))
                key = f"{loop_name}, {'resumed' if resume else 'full handshakes'}"
                rows[key] = row
                log(f"{key:28s} {row['per_s']:>8,.0f} conn/s  {row['cpu_us_per_conn']:>7,.0f} us CPU/conn  "
                    f"handshake p50 {row['handshake_p50_ms']:.2f} ms  resumed {row['resumed']}/{count}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "tls_sessions.json"
    out.write_text(json.dumps({"count": count, "loadavg_before": os.getloadavg()[0], "cases": rows}, indent=2))
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
