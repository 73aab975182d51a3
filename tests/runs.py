"""Driving runs in tests: a profile from a TOML body, a run to its end as the CLI starts one, and the
scenarios that several test files share."""

from __future__ import annotations

import asyncio

HEADER = """
name = "{name}"
target = "{target}"
duration = "{duration}"
"""


WRITE_AND_WATCH = """
[[scenarios]]
name = "write and watch"
[[scenarios.setup]]
type = "ws_connect"
path = "/ws"
[[scenarios.setup]]
type = "http"
method = "POST"
path = "/api/memories"
json = { content = "watched" }
extract = { memory_id = "json:id" }
[[scenarios.steps]]
type = "http"
method = "PATCH"
path = "/api/memories/${memory_id}"
name = "PATCH /api/memories/{id}"
json = { content = "changed ${seq}" }
[[scenarios.steps]]
type = "ws_wait"
name = "broadcast memory.updated"
match = { type = "memory.updated", id = "${memory_id}" }
since = "previous"
stamp = "sent_ns"
stamp_unit = "ns"
timeout = "2s"
[[scenarios.steps]]
type = "pause"
duration = "20ms"
"""
"""A scenario against the demo target: each user PATCHes its own memory and waits for the broadcast it
causes (``since = "previous"``), timed from the server's send stamp."""


def make_profile(target: str, body: str, duration: str = "1.5s", name: str = "test"):  # type: ignore[no-untyped-def]
    """A Profile from a TOML ``body`` ([load], [[scenarios]], ...) under a name/target/duration header."""
    from liminal_tui.profile import parse_profile

    return parse_profile(HEADER.format(name=name, target=target, duration=duration) + body, source=name)


async def run_to_end(profile, workers: int = 0, tick: float = 0.25, limit: float = 30.0):  # type: ignore[no-untyped-def]
    """Start a run as the CLI does (a Session, without a report: preflight first), wait for its final
    snapshot (at most ``limit`` seconds); return (run, final)."""
    from liminal_tui.session import Session

    session = Session(profile, workers=workers, tick=tick, report_base=None)
    await session.start()
    outcome = await asyncio.wait_for(session.finish(), limit)
    return session.run, outcome.final
