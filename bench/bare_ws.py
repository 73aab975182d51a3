"""The anchor for WebSocket timings: N connections held by plain asyncio + websockets, same pings.

    python bench/bare_ws.py --urls ws://127.0.0.3:P/ws -n 5000 --rate 1000 --heartbeat 5 \
        --start-in 5 --hold-until 45 --out bare.json

What a careful hand-written client does, and nothing more: uvloop; ``websockets.asyncio.client.connect``
with the library's own keepalive off (``ping_interval=None``), no compression, no proxy lookup; one task per
connection that sleeps ``heartbeat`` seconds, sends a ping and awaits its pong (``ping()`` then the pong
waiter), timed with ``perf_counter_ns`` exactly as liminal-tui times a heartbeat; the garbage collector
off while connecting, then ``gc.collect()`` + ``gc.freeze()`` once every connection is open (so full
collections skip them: without this, collections of 0.1-0.9 s while connecting 5,000 would time the
collector, not the network). Connections are opened at
``rate`` a second from ``start-in`` seconds after launch, round robin over ``urls``; pinging stops at
``hold-until`` seconds after launch; the connections close at ``close-at``. Writes JSON: connects, failures, drops, pings, ping failures and every
RTT in microseconds with the second (since launch) it ended in. Only the given URLs are contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time


async def run(urls: list[str], n: int, rate: float, heartbeat: float, start_in: float, hold_until: float,
              close_at: float) -> dict:
    from websockets.asyncio.client import connect

    t0 = time.monotonic()
    rtts: list[tuple[float, int]] = []
    counts = {"connects": 0, "failures": 0, "drops": 0, "ping_failures": 0}
    conns: list = []

    async def beat(ws) -> None:
        while time.monotonic() - t0 < hold_until:
            await asyncio.sleep(heartbeat)
            start = time.perf_counter_ns()
            try:
                waiter = await ws.ping()
                await asyncio.wait_for(waiter, timeout=max(heartbeat, 1.0) * 2)
            except asyncio.TimeoutError:
                counts["ping_failures"] += 1
                continue
            except Exception:  # closed under us: a drop
                counts["drops"] += 1
                return
            end = time.perf_counter_ns()
            rtts.append((round(time.monotonic() - t0, 1), (end - start) // 1000))

    async def one(url: str) -> None:
        try:
            ws = await asyncio.wait_for(connect(url, ping_interval=None, open_timeout=None, max_queue=None,
                                                compression=None, proxy=None), 20)
        except Exception:
            counts["failures"] += 1
            return
        counts["connects"] += 1
        conns.append(ws)
        await beat(ws)

    gc.disable()  # while connecting (see the docstring)
    await asyncio.sleep(max(0.0, start_in - (time.monotonic() - t0)))
    began = time.monotonic()
    tasks = []
    for i in range(n):
        due = began + i / rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        tasks.append(asyncio.ensure_future(one(urls[i % len(urls)])))
    while counts["connects"] + counts["failures"] < n and time.monotonic() - t0 < hold_until:
        await asyncio.sleep(0.1)
    all_open_at = round(time.monotonic() - t0, 1)
    gc.collect()
    gc.freeze()
    gc.enable()
    await asyncio.wait(tasks, timeout=max(0.0, hold_until + heartbeat * 3 - (time.monotonic() - t0)))
    for task in tasks:
        task.cancel()
    # Closing thousands of connections is a burst of CPU: not while the other side is still measuring.
    await asyncio.sleep(max(0.0, close_at - (time.monotonic() - t0)))
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    return {**counts, "all_open_at_s": all_open_at, "pings": len(rtts), "rtt_us": rtts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", required=True, help="comma-separated ws:// URLs (127.0.0.x only)")
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--heartbeat", type=float, default=5.0)
    ap.add_argument("--start-in", type=float, default=0.0)
    ap.add_argument("--hold-until", type=float, required=True)
    ap.add_argument("--close-at", type=float, default=0.0, help="seconds after launch to close (after the pings)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    urls = a.urls.split(",")
    if not all(u.startswith("ws://127.") for u in urls):
        raise SystemExit("bare_ws.py talks to loopback only")
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        out = runner.run(run(urls, a.n, a.rate, a.heartbeat, a.start_in, a.hold_until, a.close_at))
    with open(a.out, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
