"""The fast HTTP client's Python path alone, before and after: CPU a request without kernel or server.

    python bench/client_path.py OLD_PYTHON NEW_PYTHON [--rounds 3] [--requests 200000]
    python bench/client_path.py NEW_PYTHON                # one checkout: its figure only
    python bench/client_path.py OLD NEW --worker          # the whole engine worker on those connections

Each PYTHON is the interpreter of an environment with its own checkout of liminal-tui installed (as for
bench/ab.py). 50 tasks send ``GET /`` through ``make_client()`` (its ``begin`` where it has one, as a step
does) and record each response as a step does
(``EndpointRecorder.success`` + ``timed``), on uvloop, pinned to CPU 1. The connections are in memory:
``loop.create_connection`` is replaced by one that gives the client's own Protocol a transport whose
``write`` answers, on the next loop pass, with the bytes nginx sends for ``return 200 "ok"``. So the
figure is the client's and the recorder's CPU a request (request bytes, pool, future, llhttp, response,
recording) with no syscall in it: the part of bench/run.py's CPU per request that this code can change,
and far less moved by the machine's other load than a run against nginx. Runs alternate old/new.

With ``--worker`` the same in-memory connections serve the whole engine worker (``engine.worker.Worker``
running a profile of one checked ``GET /``, 50 users, closed model, no think time: the load's user tasks,
the iteration, the step, the client, the recorder and the 0.5 s ticks): its CPU a request over its steady
ticks (not the first second nor the last), the part of bench/run.py's liminal row that is Python.

This is a measuring harness, not a test: the engine's tests run against real servers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess

CHILD = r'''
import asyncio, sys, time
import uvloop
from liminal_tui.engine.clients import make_client
from liminal_tui.metrics.recorder import EndpointRecorder
from liminal_tui.profile.models import HttpSettings

RESP = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 01:40:00 GMT\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")


class MemoryTransport(asyncio.Transport):
    def __init__(self, loop, protocol):
        super().__init__()
        self.loop, self.protocol, self.closing = loop, protocol, False

    def write(self, data):
        self.loop.call_soon(self.protocol.data_received, RESP)

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    abort = close

    def get_extra_info(self, name, default=None):
        return default


def in_memory(loop):
    """The loop's connections are MemoryTransports from now on."""
    async def create_connection(factory, host, port, **kw):
        protocol = factory()
        transport = MemoryTransport(loop, protocol)
        protocol.connection_made(transport)
        return transport, protocol

    loop.create_connection = create_connection


async def main(n):
    in_memory(asyncio.get_running_loop())
    client = make_client(HttpSettings())
    rec = EndpointRecorder("http", "GET /", "GET", timings=True)

    begin = getattr(client, "begin", None)  # as HttpCall.run does: the future directly where the client has it
    url = "http://127.0.0.1:8080/"

    async def user(k):
        for _ in range(k):
            start = time.perf_counter_ns()
            fut = begin("GET", url, None, None, None, None) if begin is not None else None
            status, reason, body, headers = await (fut if fut is not None else client.request("GET", url, None, None, None, None))
            rec.success(time.perf_counter_ns() - start, len(body), status)
            rec.timed(headers.first_ns - start, headers.connect_ns, headers.tls_ns)

    await asyncio.gather(*(user(200) for _ in range(50)))  # warm: connections open, caches filled
    t0 = time.process_time()
    await asyncio.gather(*(user(n // 50) for _ in range(50)))
    assert rec.count == 50 * 200 + n // 50 * 50
    print((time.process_time() - t0) / (n // 50 * 50) * 1e6)


with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
    runner.run(main(int(sys.argv[1])))
'''

WORKER_CHILD = CHILD.split("async def main")[0] + r'''
from liminal_tui.engine.clock import RunClock
from liminal_tui.engine.worker import Worker, WorkerSpec
from liminal_tui.profile.loader import parse_profile

PROFILE = """name = "path"
target = "http://127.0.0.1:8080"
duration = "%ds"
[load]
model = "closed"
users = 50
spawn_rate = 100000
think_time = 0
[[scenarios]]
name = "get"
[[scenarios.steps]]
type = "http"
method = "GET"
path = "/"
check = { status = 200 }
"""


async def main(seconds):
    in_memory(asyncio.get_running_loop())
    marks = []

    def on_report(report):
        if hasattr(report, "endpoints"):
            marks.append((time.process_time(), sum(e.count for e in report.endpoints)))

    worker = Worker(WorkerSpec(0, 1, parse_profile(PROFILE % seconds), "http://127.0.0.1:8080", 0.5, 1.0),
                    RunClock.now(), on_report)
    await worker.run()
    steady = marks[2:-2]  # 0.5 s ticks: not the first second (connections opening) nor the last
    n = sum(m[1] for m in steady[1:])
    print((steady[-1][0] - steady[0][0]) / n * 1e6)


with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
    runner.run(main(int(sys.argv[1])))
'''


def one(python: str, requests: int, worker: bool = False) -> float:
    # cwd "/": each python imports its own installed checkout, not one found in the working directory
    arg = str(max(4, requests // 50_000)) if worker else str(requests)  # --worker: seconds
    out = subprocess.run(["taskset", "-c", "1", python, "-c", WORKER_CHILD if worker else CHILD, arg], capture_output=True,
                         text=True, timeout=300, cwd="/")
    if out.returncode != 0:
        raise SystemExit(f"{python}: exit {out.returncode}\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pythons", nargs="+", help="OLD_PYTHON NEW_PYTHON, or one PYTHON")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--worker", action="store_true", help="the whole engine worker, not the client alone")
    args = ap.parse_args()
    args.pythons = [os.path.abspath(p) for p in args.pythons]  # the runs start in "/"
    names = ["old", "new"] if len(args.pythons) == 2 else ["this"]
    runs: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = list(zip(names, args.pythons))
        for name, python in (order if r % 2 == 0 else order[::-1]):
            us = one(python, args.requests, args.worker)
            runs[name].append(us)
            print(f"round {r + 1} {name}: {us:.2f} us CPU a request", flush=True)
    for name in names:
        print(f"{name}: median {statistics.median(runs[name]):.2f} us CPU a request ({', '.join(f'{x:.2f}' for x in runs[name])})")
    if len(names) == 2:
        print(f"new/old: x{statistics.median(runs['new']) / statistics.median(runs['old']):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
