"""The floor for a Python generator: N tasks sharing one aiohttp ClientSession on uvloop, no framework.

    python bench/bare_aiohttp.py URL [-c 50] [-d 10] [--rate R]

Closed loop (default): each task sends GET URL, reads the body, checks the status, records the
latency, and goes again. ``--rate R``: open loop at R requests/s instead (used by bench/accuracy.py).
Prints one JSON line: requests, failures, seconds, rps, p50_ms, p99_ms (latencies from perf_counter_ns).
Bounded by the duration; only ever talks to the URL it is given (127.0.0.1 in the benches).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp


def _percentile(sorted_values: list[int], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index] / 1e6


async def main(url: str, concurrency: int, duration: float, rate: float) -> dict:
    # https:// (the bench's self-signed certificate): not verified, as wrk does not verify either
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, ssl=False if url.startswith("https:") else True)
    latencies: list[int] = []
    failures = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        end = start + duration

        async def one() -> None:
            nonlocal failures
            t0 = time.perf_counter_ns()
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append(time.perf_counter_ns() - t0)
            else:
                failures += 1

        async def closed_user() -> None:
            while time.perf_counter() < end:
                await one()

        if rate > 0:
            tasks: set[asyncio.Task] = set()
            interval = 1.0 / rate
            n = 0
            while True:
                due = start + n * interval
                if due >= end:
                    break
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.ensure_future(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            if tasks:
                await asyncio.wait(tasks, timeout=10.0)
        else:
            await asyncio.gather(*(closed_user() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies) + failures,
        "failures": failures,
        "seconds": round(seconds, 3),
        "rps": round((len(latencies) + failures) / seconds, 1),
        "p50_ms": round(_percentile(latencies, 50), 3),
        "p99_ms": round(_percentile(latencies, 99), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second")
    args = parser.parse_args()
    if not args.url.startswith(("http://127.", "http://localhost", "https://127.", "https://localhost")):
        raise SystemExit("bare_aiohttp.py only targets 127.0.0.1/localhost")
    duration = max(0.5, min(args.duration, 600.0))
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        print(json.dumps(runner.run(main(args.url, args.concurrency, duration, args.rate))))
