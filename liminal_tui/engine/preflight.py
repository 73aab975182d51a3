"""Before load starts: does the target's host resolve, and does it accept a connection?"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

__all__ = ["PreflightError", "preflight"]


class PreflightError(Exception):
    """The target cannot be reached; ``str()`` is one line for the user."""


async def preflight(url: str, timeout: float = 5.0) -> None:
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise PreflightError(f"target {url!r} has no host")
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except (socket.gaierror, asyncio.TimeoutError) as exc:
        raise PreflightError(f"target {url}: cannot resolve host {host!r} ({exc})") from None
    last: Exception | None = None
    for family, _, _, _, addr in infos:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(addr[0], port), timeout)
        except ConnectionRefusedError:
            last = PreflightError(f"target {url} is unreachable: connection refused on {addr[0]}:{port}")
            continue
        except asyncio.TimeoutError:
            last = PreflightError(f"target {url} is unreachable: no answer from {addr[0]}:{port} within {timeout:g}s")
            continue
        except OSError as exc:
            last = PreflightError(f"target {url} is unreachable: {exc.strerror or exc}")
            continue
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return
    raise last or PreflightError(f"target {url} is unreachable")
