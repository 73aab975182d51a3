"""Run the demo target: ``python -m liminal_tui.demo [--host H] [--port P]``."""

from __future__ import annotations

import argparse

from liminal_tui.demo.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m liminal_tui.demo",
                                     description="Run the liminal-tui demo target.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--heartbeat-interval", type=float, default=5.0)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = parser.parse_args(argv)
    serve_forever(args.host, args.port, args.heartbeat_interval, parent_pid=args.parent_pid)


if __name__ == "__main__":
    main()
