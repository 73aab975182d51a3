"""Broadcast fan-out at scale: 1,000 users wait for the broadcast an HTTP write causes, timed from its stamp.

    python bench/ws_fanout.py            # 1,000 users, 60 writes at 5/s (~45 s)
    python bench/ws_fanout.py --quick    # 200 users, 30 writes at 5/s (~30 s)

Starts the demo target (``python -m liminal_tui.demo``, one process, heartbeats off) on 127.0.0.1, then

* liminal-tui ``--run --json --no-report --workers 1``: N users, each ``ws_connect`` once (setup, to
  ``/ws?group=tool``), then loops one ``ws_wait`` for ``memory.updated`` with ``since = "previous"`` and
  ``stamp = "sent_ns"``: the delivery latency (arrival minus the server's send stamp) of every broadcast,
  per user;
* the server's own truth: the demo times every send against the same stamp, for each group of clients
  apart (``/_stats`` ``broadcasts.groups.tool``: stamp to the frame handed to each of the tool's sockets);
* a bare anchor (this file, ``--observe``): an asyncio + websockets client (uvloop, no framework) with M
  connections (M = N by default) to ``/ws?group=anchor``, taking ``time.time_ns()`` as websockets parses
  each frame (a ``ClientConnection`` subclass through ``create_connection``), the most a client without
  the kernel's arrival stamps can do: shown beside the server's sends to it, for what a plain read costs;
* the writer (this process): once every connection is open, W ``PATCH /api/memories/{id}`` at R a
  second (urllib, keep-alive off), each one broadcast by the server to all N + M connections.

Reported: the tool's delivery p50/p90/p99/max (summary.json ``timings_ms.delivery``) beside the server's
for the tool's connections, PASS when each is within 1 ms + 2 % of it and the tool counted N x W
deliveries (each broadcast once per user) with no failed wait; the anchor's beside the server's for the
anchor's connections; the server's whole view (each broadcast's span from first to last send: the
server's fan-out cost); the latency from the write's response (anchor: arrival minus the writer's
response time); worker CPU and RSS, server CPU, anchor CPU, as the other benches print. Results:
bench/results/ws_fanout.json.

Placement: the server on CPU 0, the tool (its whole process tree) and the anchor both on CPU 1, so that
both clients share one busy CPU and are treated alike by the scheduler (``--no-pin``: no taskset).

The server serves its clients from a random point of their list each broadcast, so the anchor's
connections and the tool's share every place in the fan-out alike. Every clock is the wall clock of this
host (the stamp is Unix ns), which every process reads alike.
Only 127.0.0.1 is contacted; every wait is bounded; the server and the anchor end with the bench.
"""

from __future__ import annotations

import argparse
import collections
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, free_port, liminal_cmd, log, provenance, wait_port  # noqa: E402
from ws_common import loadavg, percentile, raise_nofile, workers_of  # noqa: E402

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PCTS = (50.0, 90.0, 99.0, 100.0)
TOLERANCE_MS, TOLERANCE_REL = 1.0, 0.02
IDLE_S = 3.0
"""Seconds at 0 users before the ramp: the worker's RSS without connections."""
TAIL_S = 8.0
"""Seconds of the run after the last write is due: a generator that fell behind still counts every delivery."""

PROFILE = '''\
name = "bench-ws-fanout-{users}"
target = "{url}"
duration = "{duration}s"

[load]
model = "closed"
users = {users}
spawn_rate = {spawn}
think_time = 0
# {idle} s at 0 users (the worker's RSS before any connection), then the ramp, then hold.
stages = [{{ duration = "{idle}s", target = 0 }}, {{ duration = "{ramp}s", target = {users} }}, {{ duration = "{hold}s", target = {users} }}]

[[scenarios]]
name = "listen"
[[scenarios.setup]]
type = "ws_connect"
path = "/ws?group=tool"
name = "WS /ws"
connect_timeout = "20s"
[[scenarios.steps]]
type = "ws_wait"
name = "broadcast memory.updated"
match = {{ type = "memory.updated" }}
since = "previous"
stamp = "sent_ns"
stamp_unit = "ns"
timeout = "{timeout}s"
'''


# ---------------------------------------------------------------- the anchor (its own process)


async def observe(url: str, n: int, expect: int, deadline_s: float, out: Path) -> None:
    """``n`` bare websockets connections; every ``memory.updated``: (version, sent_ns, arrival ns)."""
    import gc

    from websockets.asyncio.client import ClientConnection, connect
    from websockets.frames import Frame, Opcode

    class Stamping(ClientConnection):
        """Stamps each text frame as websockets parses it (in ``data_received``), the moment the tool stamps
        its own; ``recv()`` then hands the messages over in order with their stamps."""

        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self.stamps: collections.deque[int] = collections.deque()

        def process_event(self, event) -> None:  # type: ignore[no-untyped-def]
            if event.__class__ is Frame and event.opcode is Opcode.TEXT:
                self.stamps.append(time.time_ns())
            super().process_event(event)

    gc.disable()
    conns = [await connect(url, ping_interval=None, max_queue=None, compression=None, proxy=None,
                           create_connection=Stamping) for _ in range(n)]
    gc.collect()
    gc.freeze()
    gc.enable()
    print("ready", flush=True)
    seen: list[list[tuple[int, int, int]]] = [[] for _ in conns]
    ended: dict[str, int] = {}

    async def listen(i: int, ws) -> None:  # type: ignore[no-untyped-def]
        """No timeout per message (a timer set and cancelled for each made this client slower than the tool
        it checks); one deadline for all, below."""
        mine = seen[i]
        while len(mine) < expect:
            try:
                raw = await ws.recv()
            except Exception as exc:  # a closed socket: counted by name; what was seen is written
                ended[type(exc).__name__] = ended.get(type(exc).__name__, 0) + 1
                return
            now = ws.stamps.popleft()  # when websockets parsed it, not when recv() returned it
            msg = json.loads(raw)
            if msg.get("type") == "memory.updated":
                mine.append((msg["version"], msg["sent_ns"], now))

    r0 = os.times()
    tasks = [asyncio.ensure_future(listen(i, ws)) for i, ws in enumerate(conns)]
    _, late = await asyncio.wait(tasks, timeout=deadline_s)
    for task in late:  # the deadline: what each saw is written
        task.cancel()
    if late:
        ended["deadline"] = len(late)
        await asyncio.wait(late)
    r1 = os.times()
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    out.write_text(json.dumps({"seen": seen, "ended_early": ended,
                               "cpu_s": (r1.user - r0.user) + (r1.system - r0.system)}))


# ---------------------------------------------------------------- the bench


def _get(url: str) -> dict:
    with _NO_PROXY.open(url, timeout=5) as r:
        return json.loads(r.read())


def _send(method: str, url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json", "Connection": "close"})
    with _NO_PROXY.open(req, timeout=5) as r:
        return r.status, json.loads(r.read())


def rq_wait(pids: list[int]) -> float:
    """Seconds the threads of ``pids`` have spent runnable with no CPU free (/proc/PID/task/*/schedstat)."""
    total = 0.0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                    total += int(fh.read().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):  # a thread or process that just ended
            continue
    return total


def pcts(values: list[float]) -> dict[float, float]:
    v = sorted(values)
    return {p: (v[-1] if p == 100.0 else percentile(v, p)) if v else float("nan") for p in PCTS}


def main() -> int:
    import psutil

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 users, 40 writes")
    ap.add_argument("--users", type=int, help="liminal-tui users (default 1,000; --quick 200)")
    ap.add_argument("--observers", type=int, help="bare websockets connections of the anchor (default: as many as users,"
                    " so that both sides' tails are of the same number of samples)")
    ap.add_argument("--writes", type=int, help="broadcasts caused (default 60; --quick 30)")
    ap.add_argument("--rate", type=float, default=5.0, help="writes a second (default 5)")
    ap.add_argument("--workers", default="1", help="liminal-tui --workers (default 1)")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="leave placement to the scheduler (default: the server on CPU 0, the tool and the anchor "
                         "both on CPU 1, so that both clients are measured on the same CPU, treated alike)")
    ap.add_argument("--observe", help=argparse.SUPPRESS)
    ap.add_argument("-n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=RESULTS / "ws_fanout.json")
    args = ap.parse_args()
    if args.observe:
        try:
            import uvloop
            uvloop.run(observe(args.observe, args.n, args.expect, args.deadline, args.out))
        except ImportError:
            asyncio.run(observe(args.observe, args.n, args.expect, args.deadline, args.out))
        return 0

    users = max(1, min(args.users or (200 if args.quick else 1000), 10_000))
    writes = max(1, min(args.writes or (30 if args.quick else 60), 10_000))
    rate = max(0.5, min(args.rate, 200.0))
    observers = max(1, min(args.observers or users, 10_000))
    raise_nofile(users + observers + 200)
    spawn = 1000.0
    connect_s = IDLE_S + users / spawn + 5.0  # idle, the ramp, and time for the workers to start
    write_s = writes / rate
    duration = round(connect_s + write_s + TAIL_S, 1)
    work = Path(tempfile.mkdtemp(prefix="liminal-bench-fanout-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    pin = args.pin and len(os.sched_getaffinity(0)) >= 2
    on = (lambda cpu: ["taskset", "-c", str(cpu)]) if pin else (lambda cpu: [])  # noqa: E731
    server = subprocess.Popen([*on(0), sys.executable, "-m", "liminal_tui.demo", "--port", str(port), "--heartbeat-interval", "0"],
                              stdout=subprocess.DEVNULL, stderr=open(work / "server.err", "wb"), start_new_session=True)
    proc = anchor = None
    samples: list[dict] = []
    write_log: list[tuple[int, int, int, int]] = []  # (version, start ns, response ns, status)
    try:
        wait_port(port, 20)
        status, memory = _send("POST", f"{url}/api/memories", {"content": "fan-out"})
        assert status == 201, status
        mid = memory["id"]
        profile = work / "fanout.toml"
        ramp = max(1.0, round(users / spawn, 2))
        profile.write_text(PROFILE.format(users=users, url=url, duration=duration, spawn=spawn, idle=f"{IDLE_S:g}",
                                          ramp=f"{ramp:g}", hold=f"{duration - IDLE_S - ramp:g}",
                                          timeout=f"{duration + 10:g}"))
        argv = [*liminal_cmd(), "--run", str(profile), "--json", "--no-report", "--workers", str(args.workers)]
        log(f"demo target on port {port}; {users:,} users + {observers} anchor connections; {writes} writes at "
            f"{rate:g}/s; run {duration:g} s")
        log(" ".join(argv))
        out_f, err_f = open(work / "out.json", "w+b"), open(work / "err.txt", "w+b")
        t0 = time.monotonic()
        proc = subprocess.Popen([*on(1), *argv], stdout=out_f, stderr=err_f, cwd=work, start_new_session=True)
        anchor = subprocess.Popen([*on(1), sys.executable, __file__, "--observe", f"ws://127.0.0.1:{port}/ws?group=anchor", "-n", str(observers),
                                   "--expect", str(writes), "--deadline", str(duration + 10), "--out", str(work / "anchor.json")],
                                  stdout=subprocess.PIPE, stderr=open(work / "anchor.err", "wb"), text=True,
                                  start_new_session=True)
        sp, ap_ = psutil.Process(server.pid), psutil.Process(anchor.pid)

        def sample(phase: str, clients: int = -1) -> None:
            rss = cpu = 0.0
            workers = workers_of(proc.pid) if proc.poll() is None else []
            for p in workers:
                try:
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    cpu += t.user + t.system
                except psutil.Error:
                    pass
            row = {"t": round(time.monotonic() - t0, 2), "phase": phase, "worker_rss": rss, "worker_cpu": cpu,
                   "worker_rq": rq_wait([p.pid for p in workers])}
            for name, p in (("server", sp), ("anchor", ap_)):
                try:
                    t = p.cpu_times()
                    row[f"{name}_cpu"], row[f"{name}_rss"] = t.user + t.system, p.memory_info().rss
                    row[f"{name}_rq"] = rq_wait([p.pid])
                except psutil.Error:
                    row[f"{name}_cpu"] = row[f"{name}_rss"] = row[f"{name}_rq"] = None
            row["load1"] = os.getloadavg()[0]
            row["clients"] = clients
            samples.append(row)

        # every connection open: the tool's N and the anchor's M
        deadline = t0 + connect_s + 20
        while (clients := _get(f"{url}/health")["ws_clients"]) < users + observers:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"only {clients} of {users + observers} connections opened")
            sample("connecting", clients)
            time.sleep(0.2)
        time.sleep(0.5)  # the last connections' first waits begin
        sample("writes")
        log(f"all {users + observers:,} connected at t={time.monotonic() - t0:.1f}s; writing; load {loadavg()}")
        next_at = time.monotonic()
        last_sample = 0.0
        for i in range(writes):
            next_at += 1.0 / rate
            start = time.time_ns()
            status, body = _send("PATCH", f"{url}/api/memories/{mid}", {"content": f"v{i}"})
            write_log.append((body.get("version", -1), start, time.time_ns(), status))
            if time.monotonic() - last_sample >= 0.5:
                sample("writes")
                last_sample = time.monotonic()
            time.sleep(max(0.0, next_at - time.monotonic()))
        sample("writes")
        write_end = time.monotonic() - t0
        if write_end > duration - 1.0:
            log(f"the writes ended at {write_end:.1f} s, late for a {duration:g}-s run: the count will say so")
        while proc.poll() is None and time.monotonic() - t0 < duration + 60:
            sample("tail")
            time.sleep(0.5)
        server_stats = _get(f"{url}/_stats")
        try:
            anchor.wait(30)
        except subprocess.TimeoutExpired:
            log("the anchor overran its deadline: killed")
        out_f.seek(0)
        err_f.seek(0)
        stdout, stderr = out_f.read().decode("utf-8", "replace"), err_f.read().decode("utf-8", "replace")
    finally:
        for p in (proc, anchor):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    try:
        summary = json.loads(stdout)
        truth = json.loads((work / "anchor.json").read_text())
    except (ValueError, OSError) as exc:
        print(f"no result ({exc}); liminal-tui exit {proc.returncode}; stderr:\n{stderr[-2000:]}\n"
              f"anchor:\n{(work / 'anchor.err').read_text()[-1000:]}")
        return 1

    ep = next((e for e in summary["endpoints"] if e["kind"] == "ws_message"), {})
    d = (ep.get("timings_ms") or {}).get("delivery") or {}
    tool = {p: (d.get("max") if p == 100.0 else d.get("percentiles", {}).get(f"p{p:g}", float("nan"))) for p in PCTS}
    arrivals = [(v, sent, recv) for conn in truth["seen"] for v, sent, recv in conn]
    anchor_ms = [(recv - sent) / 1e6 for _, sent, recv in arrivals]
    ref = pcts(anchor_ms)
    # The comparison's own noise: the anchor's connections in two halves, one against the other.
    halves = [pcts([(recv - sent) / 1e6 for conn in truth["seen"][k::2] for _, sent, recv in conn]) for k in (0, 1)]
    responses = {v: resp for v, _, resp, _ in write_log}
    from_resp = [(recv - responses[v]) / 1e6 for v, _, recv in arrivals if v in responses]
    stamps = {v: sent for v, sent, _ in arrivals}
    write_ms = [(resp - start) / 1e6 for _, start, resp, _ in write_log]
    stamp_to_resp = [(responses[v] - s) / 1e6 for v, s in stamps.items() if v in responses]
    srv = server_stats["broadcasts"]

    groups = srv.get("groups") or {}
    truth_tool = (groups.get("tool") or {}).get("delivery_ms") or {}
    truth_anchor = (groups.get("anchor") or {}).get("delivery_ms") or {}
    server_tool = {p: truth_tool.get("max" if p == 100.0 else f"p{p:g}", float("nan")) for p in PCTS}
    server_anchor = {p: truth_anchor.get("max" if p == 100.0 else f"p{p:g}", float("nan")) for p in PCTS}
    within = {p: abs(tool[p] - server_tool[p]) <= TOLERANCE_MS + TOLERANCE_REL * server_tool[p] for p in PCTS}
    anchor_within = {p: abs(ref[p] - server_anchor[p]) <= TOLERANCE_MS + TOLERANCE_REL * server_anchor[p] for p in PCTS}
    expected = users * writes
    counted = ep.get("successes", 0) == expected and d.get("count") == expected and ep.get("failures", 0) == 0
    anchor_full = len(anchor_ms) == observers * writes
    passed = all(within.values()) and counted and anchor_full

    def window(key: str) -> float:
        rows = [s for s in samples if s["phase"] == "writes" and s.get(key) is not None]
        if len(rows) < 2 or rows[-1]["t"] <= rows[0]["t"]:
            return float("nan")
        return (rows[-1][key] - rows[0][key]) / (rows[-1]["t"] - rows[0]["t"]) * 100

    writes_rows = [s for s in samples if s["phase"] == "writes"]
    rss = max((s["worker_rss"] for s in writes_rows), default=0.0)
    # before the users connect: the worker's last sample with none of them open (its start-up done)
    idle = max((s["worker_rss"] for s in samples if s["phase"] == "connecting" and 0 <= s["clients"] <= observers
                and s["worker_rss"]), default=float("nan"))
    fmt = lambda x: f"{x:.2f}" if isinstance(x, (int, float)) and x == x else "n/a"  # noqa: E731
    rows = [
        ("users (liminal-tui) / anchor connections", f"{users:,} / {observers}"),
        ("writes (PATCH) / rate", f"{len(write_log)} / {rate:g} a second"),
        ("tool: deliveries counted / expected", f"{d.get('count', 0):,} / {expected:,} (ws_wait successes "
                                                 f"{ep.get('successes', 0):,}, failures {ep.get('failures', 0):,})"),
        ("anchor: deliveries seen / expected", f"{len(anchor_ms):,} / {observers * writes:,}"),
    ]
    for p in PCTS:
        name = "max" if p == 100.0 else f"p{p:g}"
        rows.append((f"delivery {name} ms: tool / server's sends to it", f"{fmt(tool[p])} / {fmt(server_tool[p])}  "
                     f"({fmt(tool[p] - server_tool[p])} ms, {'within' if within[p] else 'OUTSIDE'} 1 ms + 2 %)"))
    for p in PCTS:
        name = "max" if p == 100.0 else f"p{p:g}"
        rows.append((f"delivery {name} ms: bare anchor / server's sends to it",
                     f"{fmt(ref[p])} / {fmt(server_anchor[p])}  ({fmt(ref[p] - server_anchor[p])} ms, "
                     f"{'within' if anchor_within[p] else 'outside'} 1 ms + 2 %)"))
    rows.append(("noise: anchor half / other half p50/p90/p99/max ms",
                 "  ".join(f"{fmt(halves[0][p])}/{fmt(halves[1][p])}" for p in PCTS)))
    sd, ss, st = srv.get("delivery_ms") or {}, srv.get("span_ms") or {}, srv.get("total_ms") or {}
    fr = pcts(from_resp)
    rows += [
        ("server: stamp -> frame to socket p50/p90/p99/max ms",
         " / ".join(fmt(sd.get(k)) for k in ("p50", "p90", "p99", "max"))),
        ("server: per-broadcast send span (first to last) p50/p99/max ms",
         " / ".join(fmt(ss.get(k)) for k in ("p50", "p99", "max"))),
        ("server: stamp -> last send p50/p99/max ms", " / ".join(fmt(st.get(k)) for k in ("p50", "p99", "max"))),
        ("server: sends / failed / broadcasts", f"{srv['sends']:,} / {srv['failed_sends']:,} / {srv['count']:,}"),
        ("write (PATCH) latency p50 / p99 ms", f"{fmt(pcts(write_ms)[50.0])} / {fmt(pcts(write_ms)[99.0])}"),
        ("stamp -> write's response p50 / max ms", f"{fmt(pcts(stamp_to_resp)[50.0])} / {fmt(pcts(stamp_to_resp)[100.0])}"),
        ("anchor: from the write's response p50/p90/p99/max ms", " / ".join(fmt(fr[p]) for p in PCTS)),
        ("worker RSS at connect / during writes MB", f"{idle / 1e6:.1f} / {rss / 1e6:.1f}"),
        ("memory per connection (worker RSS)", f"{(rss - idle) / max(users, 1) / 1024:.1f} KB"),
        ("worker CPU during writes", f"{window('worker_cpu'):.0f} % of a core"),
        ("worker CPU per 1,000 deliveries", f"{window('worker_cpu') / 100 / (rate * users) * 1e6:.1f} ms"),
        ("server CPU during writes", f"{window('server_cpu'):.0f} % of a core"),
        ("anchor CPU during writes", f"{window('anchor_cpu'):.0f} % of a core ({observers} connections)"),
        ("run-queue wait during writes: worker / anchor / server",
         f"{window('worker_rq'):.0f} / {window('anchor_rq'):.0f} / {window('server_rq'):.0f} % of a core (runnable, no CPU free)"),
        ("load average (1 min)", f"{loadavg()} on {os.cpu_count()} CPUs"),
        ("generator saturated (s)", f"{summary['generator']['saturated_seconds']}"),
        ("liminal-tui exit code", f"{proc.returncode}"),
    ]
    w = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k.ljust(w)}  {v}")
    print(f"{'PASS' if passed else 'FAIL'}  delivery p50/p90/p99/max within 1 ms + 2 % of the server's own sends to the "
          f"tool's connections"
          f"{'' if all(within.values()) else ': NOT MET'}; every broadcast counted once per user, no failed wait"
          f"{'' if counted else ': NOT MET'}; the anchor saw every broadcast{'' if anchor_full else ': NOT MET'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": " ".join(["python", "bench/ws_fanout.py", *sys.argv[1:]]), "argv": argv,
        "provenance": provenance(), "users": users, "observers": observers, "writes": writes, "rate": rate,
        "tool_ms": {f"p{p:g}": tool[p] for p in PCTS}, "anchor_ms": {f"p{p:g}": ref[p] for p in PCTS},
        "server_tool_ms": {f"p{p:g}": server_tool[p] for p in PCTS},
        "server_anchor_ms": {f"p{p:g}": server_anchor[p] for p in PCTS},
        "within": {f"p{p:g}": within[p] for p in PCTS}, "anchor_within": {f"p{p:g}": anchor_within[p] for p in PCTS},
        "anchor_halves_ms": [{f"p{p:g}": h[p] for p in PCTS} for h in halves], "anchor_ended_early": truth.get("ended_early"),
        "server": {k: ({kk: vv for kk, vv in v.items() if kk != "hdr"} if isinstance(v, dict) else v) for k, v in srv.items()},
        "from_response_ms": {f"p{p:g}": fr[p] for p in PCTS}, "write_ms": pcts(write_ms)[50.0],
        "samples": samples, "passed": passed, "summary": summary, "stderr_tail": stderr[-3000:],
    }, indent=1, default=str))
    print(f"written: {args.out}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
