"""Latency accuracy: does liminal-tui report what the server really took?

    python bench/accuracy.py            # 100 it/s for 10 s per run
    python bench/accuracy.py --quick    # 100 it/s for 5 s

Two local aiohttp servers (uvloop, pinned to CPU 0) on free 127.0.0.1 ports: one answers after a fixed
20 ms delay, one at once. Generators run on CPU 1 at a moderate fixed rate (open model):

    bare-0    bench/bare_aiohttp.py --rate 100 against the 0 ms server: the client+server floor
    bare-20   the same against the 20 ms server
    liminal   liminal-tui --run <profile> --rate 100 (open model) against the 20 ms server
    liminal-0 the same against the 0 ms server (liminal's own overhead at this rate)

PASS when liminal's reported p50 is within 1 ms of 20 ms + bare-0's p50 (also shown: against bare-20).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH, RESULTS, free_port, get_profile, liminal_cmd, provenance, run_measured, wait_port  # noqa: E402

DELAY_MS = 20.0
TOLERANCE_MS = 1.0



def serve(port: int, delay_ms: float) -> None:
    """The server side (run as a subprocess): GET / answers ``ok`` after ``delay_ms``."""
    from aiohttp import web

    delay = delay_ms / 1000.0

    async def handler(request: web.Request) -> web.Response:
        if delay > 0:
            await asyncio.sleep(delay)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handler)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True,
                loop=loop_factory() if loop_factory else None)


class Server:
    def __init__(self, delay_ms: float) -> None:
        self.delay_ms = delay_ms
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        self.proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, __file__, "--serve", str(self.port),
                                      str(self.delay_ms)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def bare(url: str, rate: float, seconds: int) -> dict:
    m = run_measured([sys.executable, str(BENCH / "bare_aiohttp.py"), url + "/", "--rate", str(rate), "-d", str(seconds)],
                     1, seconds + 60)
    d = json.loads(m.stdout.strip().splitlines()[-1])
    return {"requests": d["requests"], "failures": d["failures"], "p50_ms": d["p50_ms"], "p99_ms": d["p99_ms"]}


def liminal(url: str, rate: float, seconds: int, work: Path) -> dict:
    profile = work / "accuracy.toml"
    profile.write_text(get_profile("bench-accuracy", url, seconds,
                                   f"model = \"open\"\nrate = {rate}\nmax_in_flight = 1000"))
    m = run_measured([*liminal_cmd(), "--run", str(profile), "--json", "-q", "--no-report", "--workers", "1"], 1, seconds + 60)
    d = json.loads(m.stdout)
    e = next(x for x in d["endpoints"] if x["kind"] == "http")
    service = e.get("service_ms") or e.get("service_latency_ms") or {}
    return {"requests": e["requests"], "failures": e["failures"], "p50_ms": e["latency_ms"]["percentiles"]["p50"],
            "p99_ms": e["latency_ms"]["percentiles"]["p99"],
            "service_p50_ms": (service.get("percentiles") or {}).get("p50"),
            "saturated_s": d["generator"]["saturated_seconds"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 s runs instead of 10 s")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--serve", nargs=2, metavar=("PORT", "DELAY_MS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(int(args.serve[0]), float(args.serve[1]))
        return 0
    seconds = 5 if args.quick else 10
    rate = max(1.0, min(args.rate, 2000.0))
    work = Path(tempfile.mkdtemp(prefix="liminal-bench-accuracy-"))
    out: dict = {}
    with Server(DELAY_MS) as slow, Server(0.0) as fast:
        out["bare-0"] = bare(fast.url, rate, seconds)
        out["bare-20"] = bare(slow.url, rate, seconds)
        out["liminal"] = liminal(slow.url, rate, seconds, work)
        out["liminal-0"] = liminal(fast.url, rate, seconds, work)
    for name, r in out.items():
        extra = f"  (service time p50 {r['service_p50_ms']} ms)" if r.get("service_p50_ms") is not None else ""
        print(f"{name:10s} p50 {r['p50_ms']:7.3f} ms  p99 {r['p99_ms']:7.3f} ms  {r['requests']} requests, "
              f"{r['failures']} failures{extra}")
    expected = DELAY_MS + out["bare-0"]["p50_ms"]
    got = out["liminal"]["p50_ms"]
    ok = abs(got - expected) <= TOLERANCE_MS
    print(f"expected p50 = {DELAY_MS:g} ms + bare-0 p50 {out['bare-0']['p50_ms']:.3f} ms = {expected:.3f} ms; "
          f"liminal reports {got:.3f} ms (off by {got - expected:+.3f} ms; vs bare-20 {got - out['bare-20']['p50_ms']:+.3f} ms)")
    print(f"{'PASS' if ok else 'FAIL'}  liminal p50 within {TOLERANCE_MS:g} ms of 20 ms + bare floor")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "accuracy.json").write_text(json.dumps({
        "provenance": provenance(), "rate": rate, "seconds": seconds, "delay_ms": DELAY_MS, "runs": out, "expected_p50_ms": round(expected, 3),
        "liminal_p50_ms": got, "passed": ok,
    }, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
