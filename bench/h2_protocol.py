"""The engine's HTTP clients alone (no scenario, no recording): CPU per request of HTTP/2 over h2, httpx, and
the HTTP/1.1 fast client over TLS.

    python bench/h2_protocol.py            # 20,000 requests (h2, fast), 3,000 (httpx)
    python bench/h2_protocol.py --quick    # 5,000 / 1,000

50 tasks share one client as a worker's users do, ``GET /`` against the bench nginx (CPU 0; http2 on its
h2 port, HTTP/1.1 on its https port), this process on CPU 1, uvloop: ``http2 = true`` (the h2 client,
``engine/clients/h2.py``: 50 streams on one connection), ``client = "httpx"`` with ``http2 = true``, and the
fast client over https:// (50 connections). Prints requests/s and CPU per request (this process,
user+sys) of each. (It began as the prototype of the h2 client, at ~170-180 us a request.)

Only 127.0.0.1 is contacted; every case is bounded by its count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, Nginx, ensure_apt, log  # noqa: E402

USERS = 50


async def run_client(url: str, cert: Path, count: int, **settings) -> dict:  # type: ignore[no-untyped-def]
    """One engine client (``make_client``), 50 tasks sharing it as a worker's users do."""
    from liminal_tui.engine.clients import make_client
    from liminal_tui.profile.models import HttpSettings

    client = make_client(HttpSettings(ca_bundle=str(cert), **settings))

    async def one():  # type: ignore[no-untyped-def]
        status, _, body, _ = await client.request("GET", url, None, None, None, None)
        return status, body

    result = await _drive(one, count, None)
    result["connections"] = client.open_connections()
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
    count, count_httpx = (5000, 1000) if args.quick else (20000, 3000)
    ensure_apt("nginx")
    os.sched_setaffinity(0, {1} if (os.cpu_count() or 1) > 1 else {0})
    import uvloop

    rows = {}
    with Nginx(cpu=0) as nginx:
        cases = {"h2 (http2 = true)": (nginx.h2_url, count, {"http2": True}),
                 "httpx (client = httpx)": (nginx.h2_url, count_httpx, {"http2": True, "client": "httpx"}),
                 "fast HTTP/1.1 (https)": (nginx.https_url, count, {})}
        for key, (url, n, settings) in cases.items():
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                rows[key] = runner.run(run_client(url + "/", nginx.cert, n, **settings))
    for key, row in rows.items():
        log(f"{key:24s} {row['rps']:>9,.0f} req/s  {row['cpu_us_per_req']:>7,.0f} us CPU/req  "
            f"({row['requests']} requests, {row['connections']} connection(s))")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "h2_protocol.json").write_text(json.dumps({"loadavg_before": os.getloadavg()[0], "cases": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
