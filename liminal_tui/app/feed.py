"""From the metrics bus to a screen: the newest snapshot only, at most a few times a second.

A ``latest`` subscription keeps one snapshot; :class:`SnapshotArrived` replaces an older one still
queued, so a slow screen skips stale frames instead of falling behind the run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.message import Message
from textual.message_pump import MessagePump

from ..metrics.bus import Subscription
from ..metrics.snapshot import Snapshot
from ..live import LiveRun
from ..profile import Profile

__all__ = ["SnapshotArrived", "follow", "default_run_factory"]


class SnapshotArrived(Message):
    """A new snapshot from the run; it supersedes one still waiting (but never the final one)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotArrived) and not message.snapshot.final


async def follow(subscription: Subscription, target: MessagePump, min_interval: float = 0.25) -> Snapshot | None:
    """Post each snapshot to ``target``, no more often than ``min_interval``; return the final one."""
    last: Snapshot | None = None
    async for snapshot in subscription:
        target.post_message(SnapshotArrived(snapshot))
        last = snapshot
        if snapshot.final:
            break
        await asyncio.sleep(min_interval)
    return last if last is not None and last.final else None


def default_run_factory(profile: Profile) -> LiveRun:
    """The real engine in one worker process, with its report written under ``./reports/``."""
    from ..session import Session  # imported late: the app starts without loading the engine

    return Session(profile, workers=1, report_base=Path("reports"))
