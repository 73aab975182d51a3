"""Command line: the app (no arguments), ``--run`` for scripts and CI, ``--validate``, ``--serve-demo``,
``--web`` (the app in a browser).

Exit codes: 0 all thresholds passed; 1 a threshold failed; 2 bad profile or usage (``--cluster``: Dask
missing, versions differ); 3 target unreachable at preflight (``--cluster``: from a host); 4 the load
generator failed to start (``--cluster``: no scheduler or no workers); 130 interrupted (Ctrl-C, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__

__all__ = ["main", "EXIT_OK", "EXIT_THRESHOLD", "EXIT_USAGE", "EXIT_UNREACHABLE", "EXIT_ENGINE", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_ENGINE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
_STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
"""What stops a headless run gracefully (a second one aborts it)."""


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def _positive(kind: type) -> Any:
    def parse(value: str) -> Any:
        try:
            v = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
        if v <= 0:
            raise argparse.ArgumentTypeError("must be above 0")
        return v
    return parse


def _duration(value: str) -> float:
    from .profile.durations import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return seconds


def _percent(value: str) -> float:
    try:
        pct = float(value.removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage such as 5 or 5%, got {value!r}") from None
    if not 0 <= pct <= 1000:
        raise argparse.ArgumentTypeError("must be 0-1000")
    return pct


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT, got {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("port must be 0-65535")
    return (host.strip("[]") or "127.0.0.1", number)


def _cluster(value: str) -> Any:
    from .cluster import parse_cluster  # no Dask: only the address is parsed here

    try:
        return parse_cluster(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="liminal-tui",
        description="Load testing for HTTP and WebSocket APIs, in the terminal. With no arguments, opens the app.",
        epilog="Exit codes: 0 passed, 1 threshold failed, 2 bad profile or usage, 3 target unreachable, "
               "4 the load generator failed to start, 130 interrupted.",
    )
    p.add_argument("--version", action="version", version=f"liminal-tui {__version__}")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--run", metavar="PROFILE", help="run a profile headless (a path or a shipped name: smoke, load, stress, soak)")
    mode.add_argument("--validate", metavar="PROFILE", help="check a profile and exit")
    mode.add_argument("--serve-demo", action="store_true", help="serve the built-in demo target (memories API + WebSocket)")
    mode.add_argument("--web", action="store_true", help="serve the app to a browser, one app per tab (needs liminal-tui[web])")
    mode.add_argument("--compare", nargs="+", metavar="RUN", help="compare two runs: OLD [NEW] (report folders or summary.json; NEW defaults to the newest run of OLD's profile)")
    mode.add_argument("--history", nargs="?", const="", metavar="PROFILE", help="list past runs in the reports folder (of one profile)")
    p.add_argument("--out", type=Path, metavar="DIR", help="--compare: also write the HTML comparison page to DIR")
    p.add_argument("--min-change", type=_percent, default=5.0, metavar="PCT", help="--compare: the smallest change in %% that counts as better/worse, whatever the noise (default 5)")
    p.add_argument("--baseline", metavar="PATH", help="--run: a past run (folder or summary.json) for thresholds like 'p99 < baseline + 10%%'")
    p.add_argument("--baseline-force", action="store_true", help="--run: use a baseline from another profile or target, or a short run")
    p.add_argument("-u", "--users", type=_positive(int), help="virtual users (closed model)")
    p.add_argument("-r", "--spawn-rate", type=_positive(float), help="users started per second")
    p.add_argument("-d", "--duration", type=_duration, help="run time: 30s, 10m, 1h")
    p.add_argument("--rate", type=_positive(float), help="open model: iterations per second")
    p.add_argument("--target", metavar="URL", help="base URL of the system under test, or 'builtin'")
    p.add_argument("--workers", type=_workers, default=1, metavar="N|auto", help="worker processes (default 1; 0 runs in-process)")
    p.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR", help="where reports go (default reports/)")
    p.add_argument("--no-report", action="store_true", help="write no report")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("--prometheus", type=_hostport, metavar="[HOST:]PORT", help="serve live metrics for Prometheus")
    p.add_argument("--cluster", type=_cluster, metavar="tcp://HOST:PORT|local:N",
                   help="spread the load over the workers of a Dask cluster (--workers is then per host); "
                        "local:N starts N Dask workers here. Needs liminal-tui[cluster]")
    p.add_argument("--host", default="127.0.0.1", help="--serve-demo, --web: address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="--serve-demo: port (default 8000); --web: port (default 8089)")
    p.add_argument("--token", action="store_true", help="--web: require a token on loopback too (always required elsewhere)")
    p.add_argument("--max-sessions", type=_positive(int), default=4, metavar="N", help="--web: tabs open at once (default 4)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is not None and not args.compare:
        parser.error("--out goes with --compare")
    if (args.baseline or args.baseline_force) and not args.run:
        parser.error("--baseline and --baseline-force go with --run")
    if args.serve_demo:
        from .demo.server import serve_forever

        serve_forever(host=args.host, port=8000 if args.port is None else args.port)
        return EXIT_OK
    if args.web:
        from .web import main as serve_web

        return serve_web(args.host, 8089 if args.port is None else args.port, token=args.token,
                         max_sessions=args.max_sessions)
    if args.validate:
        return _validate(args.validate)
    if args.compare:
        from .history.commands import compare_command

        return compare_command(args.compare, args.report_dir, as_json=args.json, out=args.out,
                               min_change=args.min_change / 100)
    if args.history is not None:
        from .history.commands import history_command

        return history_command(args.history, args.report_dir, as_json=args.json)
    if args.cluster is not None:
        from .cluster import ClusterError, require_dask

        try:
            require_dask()
        except ClusterError as exc:
            print(f"liminal-tui: {exc}", file=sys.stderr)
            return exc.exit_code
    if args.run:
        code = asyncio.run(_headless(args)) if not _use_uvloop() else _run_uvloop(_headless(args))
        _ignore_late_signals()
        return code
    from .app import create_app

    app = create_app(run_factory=_cluster_factory(args.cluster) if args.cluster is not None else None)
    app.run()
    return app.return_code or (EXIT_INTERRUPTED if app.interrupted_by else EXIT_OK)


def _cluster_factory(cluster: Any) -> Any:
    """The app's runs go to the cluster (the same Session as ``--run``, one worker process per host)."""
    def factory(profile: Any) -> Any:
        from .session import Session

        return Session(profile, workers=1, report_base=Path("reports"), cluster=cluster)
    return factory


def _ignore_late_signals() -> None:
    """The report is written and the exit code decided: a signal during the interpreter's teardown
    must not kill the process (exit -15 instead of the run's code). Python resets its own handlers to
    the default action at finalization, but leaves an ignored signal ignored."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _use_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _run_uvloop(coro: Any) -> int:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _validate(name: str) -> int:
    from .profile.loader import ProfileError, check_environment, load_profile, resolve_profile

    try:
        path = resolve_profile(name)
        profile = load_profile(path)
        check_environment(profile, source=str(path), text=path.read_text(encoding="utf-8"))
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    load = profile.load
    what = f"{load.users} users" if load.model == "closed" else f"{load.rate:g} it/s"
    print(f"{path}: OK - {profile.name}: {what}, {profile.duration:g}s, {len(profile.scenarios)} scenario(s), "
          f"{len(profile.thresholds.parsed())} threshold rule(s)")
    return EXIT_OK


def load_with_overrides(args: argparse.Namespace) -> Any:
    """The profile named by ``--run`` with the command line's overrides, validated as one."""
    import tomllib

    from .profile.loader import ProfileError, resolve_profile, validate_data

    path = resolve_profile(args.run)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), [f"TOML syntax error: {exc}"]) from None
    except OSError as exc:
        raise ProfileError(str(path), [f"cannot read: {exc}"]) from None
    load = data.setdefault("load", {}) if isinstance(data.get("load", {}), dict) else data["load"]
    if isinstance(load, dict):
        if args.users is not None:
            load["users"] = args.users
            load["model"] = "closed"
            load.pop("stages", None)
        if args.spawn_rate is not None:
            load["spawn_rate"] = args.spawn_rate
        if args.rate is not None:
            load["model"] = "open"
            load["rate"] = args.rate
            load.pop("stages", None)
    if args.duration is not None:
        data["duration"] = args.duration
    if args.target is not None:
        data["target"] = args.target
    return validate_data(data, source=str(path), base_dir=path.parent)


async def _headless(args: argparse.Namespace) -> int:
    from .cluster import ClusterError
    from .engine.pool import WorkerStartError
    from .engine.preflight import PreflightError
    from .headless import ProgressPrinter, format_summary
    from .metrics.events import StopCause, StopReason
    from .profile.loader import ProfileError
    from .session import Session, SessionError

    try:
        profile = load_with_overrides(args)
    except ProfileError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    baseline = None
    if args.baseline:
        from .history.baseline import BaselineError, load_baseline

        try:
            baseline = load_baseline(args.baseline, profile, force=args.baseline_force)
        except BaselineError as exc:
            print(f"liminal-tui: {exc}", file=sys.stderr)
            return EXIT_USAGE
    prometheus = args.prometheus
    if prometheus is None and os.environ.get("ENABLE_PROMETHEUS", "").lower() in ("1", "true", "yes"):
        prometheus = ("127.0.0.1", int(os.environ.get("PROMETHEUS_PORT", "9646")))
    session = Session(profile, workers=args.workers, report_base=None if args.no_report else args.report_dir,
                      prometheus=prometheus, baseline=baseline, cluster=args.cluster)
    try:
        session.prepare()
    except SessionError as exc:
        print(f"liminal-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    printer = ProgressPrinter(sys.stderr)
    if not args.quiet:
        session.run.bus.add_callback(printer.on_snapshot)
    interrupted: list[str] = []
    stopping: list[asyncio.Future[None]] = []  # kept: a task nobody holds may be collected mid-way
    reported: list[bool] = []
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if reported:
            return  # the report is written and the exit code decided: nothing left to interrupt
        if session.run.stop_reason is not None and session.run.stop_reason.completed:
            # The run ended on its own: the signal only cuts short the wait for in-flight requests.
            session.run.abort(StopReason(StopCause.ABORTED, f"{name} during the wind-down"))
            return
        if interrupted:
            session.run.abort(StopReason(StopCause.INTERRUPTED, f"{name}, twice"))
            return
        interrupted.append(name)
        print(f"\nliminal-tui: {name}: stopping; press Ctrl-C again to abort", file=sys.stderr)
        stopping.append(asyncio.ensure_future(session.run.stop(StopReason(StopCause.INTERRUPTED, name))))

    def handler(signum: int, frame: Any) -> None:
        # Python-level handlers rather than loop.add_signal_handler: those are removed with the loop, and
        # a signal in the interpreter's teardown then killed the process (exit -15) after its report.
        if not loop.is_closed():
            loop.call_soon_threadsafe(on_signal, signal.Signals(signum).name)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        try:
            await session.start()
        except PreflightError as exc:
            print(f"liminal-tui: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except ClusterError as exc:  # --cluster: versions differ (2), or the cluster cannot be reached (4)
            print(f"liminal-tui: {exc}", file=sys.stderr)
            return exc.exit_code
        except WorkerStartError as exc:  # our own side failed: not the target's fault
            print(f"liminal-tui: {exc}", file=sys.stderr)
            return EXIT_ENGINE
        except RuntimeError as exc:  # the demo target failed to start
            print(f"liminal-tui: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        if not profile.http.verify_tls:
            print("liminal-tui: warning: TLS certificate verification is off (http.verify_tls = false)", file=sys.stderr)
        if not args.quiet:
            where = (f"{session.run.workers} host(s) of {args.cluster}" if args.cluster is not None
                     else f"{session.run.workers or 'in-process'} worker(s)")
            print(f"liminal-tui: {profile.name} -> {session.run.target_url} for {profile.duration:g}s ({where})",
                  file=sys.stderr)
        outcome = await session.finish()
        reported.append(True)
    finally:
        printer.close()
    notes = session.notes(outcome.final)
    if outcome.report_error:
        print(f"liminal-tui: {outcome.report_error}", file=sys.stderr)
    if args.json:
        print(json.dumps(session.summary(outcome), indent=2))
    else:
        print(format_summary(outcome.final, outcome.verdicts, str(outcome.report_dir) if outcome.report_dir else None,
                             notes, session.health))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if outcome.passed else EXIT_THRESHOLD


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
