"""Time to first request: from launching ``liminal-tui --run`` to the first request reaching a server.

    python bench/startup.py            # median of 5 launches
    python bench/startup.py -n 9

The server is a raw asyncio server on a free 127.0.0.1 port that notes when the first bytes of an HTTP
request arrive (the preflight's bare TCP connect sends nothing, so it does not count) and answers every
request with ``200 ok``. Each launch runs a 5-second, 1-user profile, interrupted with SIGINT once the first request has
arrived (bounded at 30 s).
Also times ``liminal-tui --version`` (interpreter + CLI import) for comparison. Target: median < 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import provenance, RESULTS, liminal_cmd, median  # noqa: E402

TARGET_S = 1.5

PROFILE = '''\
name = "bench-startup"
target = "{url}"
duration = "5s"

[load]
model = "closed"
users = 1
spawn_rate = 1000
think_time = "10ms"

[[scenarios]]
name = "get"
[[scenarios.steps]]
type = "http"
method = "GET"
path = "/"
check = {{ status = 200 }}
'''

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class FirstRequest:
    def __init__(self) -> None:
        self.at: float | None = None
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if self.at is None:
                    self.at = time.perf_counter()
                self.requests += 1
                if b"content-length:" in head.lower():
                    n = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                    await reader.readexactly(n)
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def one_launch(work: Path) -> dict:
    state = FirstRequest()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    profile = work / "startup.toml"
    profile.write_text(PROFILE.format(url=f"http://127.0.0.1:{port}"))
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *liminal_cmd(), "--run", str(profile), "-q", "--no-report", "--json", "--workers", "1",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    waiter = asyncio.ensure_future(proc.communicate())
    deadline = t0 + 30.0
    while state.at is None and not waiter.done() and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    t_end = time.perf_counter()
    if not waiter.done():
        proc.send_signal(signal.SIGINT)  # graceful stop: the figure we want is already taken
    try:
        _, err = await asyncio.wait_for(waiter, 20.0)
    except asyncio.TimeoutError:
        proc.kill()
        _, err = await waiter
    server.close()
    await server.wait_closed()
    return {"first_request_s": None if state.at is None else round(state.at - t0, 3),
            "waited_s": round(t_end - t0, 3), "rc": proc.returncode, "requests": state.requests,
            "stderr": err.decode(errors="replace")[-300:] if state.at is None else ""}


async def version_time() -> float:
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*liminal_cmd(), "--version", stdout=asyncio.subprocess.DEVNULL)
    await asyncio.wait_for(proc.wait(), 60.0)
    return time.perf_counter() - t0


async def main(n: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="liminal-bench-startup-"))
    await one_launch(work)  # warm the page cache and the .pyc files; not counted
    runs = []
    for i in range(n):
        r = await one_launch(work)
        runs.append(r)
        print(f"launch {i + 1}: first request after {r['first_request_s']} s "
              f"(rc {r['rc']}, {r['requests']} requests){'  ' + r['stderr'] if r['stderr'] else ''}")
    versions = [await version_time() for _ in range(3)]
    firsts = [r["first_request_s"] for r in runs if r["first_request_s"] is not None]
    med = median(firsts) if len(firsts) == len(runs) else float("inf")
    print(f"median time to first request: {med:.3f} s (min {min(firsts, default=float('nan')):.3f}, "
          f"max {max(firsts, default=float('nan')):.3f}); `liminal-tui --version` takes {median(versions):.3f} s")
    ok = med < TARGET_S
    print(f"{'PASS' if ok else 'FAIL'}  time to first request < {TARGET_S} s: {med:.3f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps({
        "provenance": provenance(), "median_first_request_s": med, "version_s": round(median(versions), 3), "runs": runs, "passed": ok,
    }, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=5, help="launches (median reported)")
    sys.exit(asyncio.run(main(max(1, min(ap.parse_args().n, 50)))))
