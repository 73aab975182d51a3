"""The in-process metrics bus: the engine publishes snapshots, readers subscribe.

A reader never slows the engine: ``publish`` only appends to each subscription and returns. A
``latest`` subscription (a screen) keeps just the newest snapshot, so a slow reader skips stale frames;
an ``every`` subscription (the report writer) keeps them all, which is cheap at one snapshot a second.
Nor can a reader stop it: a callback that raises is dropped and named in :attr:`MetricsBus.errors`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable, Literal

from .snapshot import Snapshot

__all__ = ["MetricsBus", "Subscription"]


class Subscription:
    """An async iterator of snapshots; ends after the final snapshot or when closed."""

    def __init__(self, bus: "MetricsBus", mode: Literal["latest", "every"]) -> None:
        self._bus = bus
        self.mode = mode
        self._items: deque[Snapshot] = deque(maxlen=1 if mode == "latest" else None)
        self._event = asyncio.Event()
        self._closed = False

    def _push(self, snapshot: Snapshot) -> None:
        self._items.append(snapshot)
        self._event.set()

    def close(self) -> None:
        self._closed = True
        self._event.set()
        self._bus._unsubscribe(self)

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Snapshot:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._event.clear()
            await self._event.wait()
        snapshot = self._items.popleft()
        if snapshot.final:
            self._closed = True
        return snapshot


class MetricsBus:
    """Fan-out of snapshots to subscriptions and plain callbacks, on one event loop."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._callbacks: list[Callable[[Snapshot], None]] = []
        self.latest: Snapshot | None = None
        """The newest snapshot published, for readers that join late."""
        self.errors: list[str] = []
        """Callbacks that raised, each dropped: ``"<callback>: <error>"``, in order."""

    def subscribe(self, mode: Literal["latest", "every"] = "every") -> Subscription:
        sub = Subscription(self, mode)
        self._subs.append(sub)
        return sub

    def add_callback(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]:
        """Call ``callback(snapshot)`` on each publish (it must be quick); returns an unsubscriber."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, snapshot: Snapshot) -> None:
        self.latest = snapshot
        for sub in list(self._subs):
            sub._push(snapshot)
        for callback in list(self._callbacks):
            try:
                callback(snapshot)
            except Exception as exc:  # one broken reader must not stop the run or starve the others
                self._callbacks.remove(callback)
                name = getattr(callback, "__qualname__", type(callback).__name__)
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
