"""``liminal-tui --web``: the app in a browser, one app process per tab, served by textual-serve's parts.

Needs the ``web`` extra (``pip install 'liminal-tui[web]'``); nothing else in liminal-tui imports this.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(host: str, port: int, *, token: bool = False, max_sessions: int = 4) -> int:
    """Serve until interrupted; returns the exit code (2 when the extra is missing or the port is taken)."""
    try:
        from .server import run
    except ImportError as exc:
        if not (exc.name or "").startswith("textual_serve"):
            raise
        print("liminal-tui: --web needs the web extra: pip install 'liminal-tui[web]'", file=sys.stderr)
        return 2
    return run(host, port, token=token, max_sessions=max_sessions)
