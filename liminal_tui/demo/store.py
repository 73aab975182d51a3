"""The demo target's data: memories in a bounded in-memory store, and counters of what was served."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from itertools import islice
from typing import Any

__all__ = ["ApiError", "Memory", "MemoryStore", "Stats", "MAX_MEMORIES", "MAX_PER_PAGE", "MAX_STORE_BYTES"]

MAX_MEMORIES = 100_000
MAX_STORE_BYTES = 256 * 1024 * 1024  # rough budget for content + tags
MAX_PER_PAGE = 100

Memory = dict[str, Any]


class ApiError(Exception):
    """Raised by handlers; rendered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class MemoryStore:
    """Insertion-ordered, bounded store; the oldest memories are evicted first."""

    def __init__(self, max_items: int = MAX_MEMORIES, max_bytes: int = MAX_STORE_BYTES) -> None:
        self._items: OrderedDict[str, Memory] = OrderedDict()
        self._max_items, self._max_bytes, self._bytes = max_items, max_bytes, 0

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _size(memory: Memory) -> int:
        return len(memory["content"]) + sum(map(len, memory["tags"]))

    def create(self, content: str, tags: list[str]) -> Memory:
        now = time.time()
        memory = {"id": uuid.uuid4().hex, "content": content, "tags": tags,
                  "version": 1, "created_at": now, "updated_at": now}
        self._items[memory["id"]] = memory
        self._bytes += self._size(memory)
        while len(self._items) > 1 and (len(self._items) > self._max_items
                                        or self._bytes > self._max_bytes):
            self._bytes -= self._size(self._items.popitem(last=False)[1])
        return memory

    def get(self, memory_id: str) -> Memory | None:
        return self._items.get(memory_id)

    def update(self, memory: Memory, content: str | None, tags: list[str] | None) -> Memory:
        self._bytes -= self._size(memory)
        memory["content"] = memory["content"] if content is None else content
        memory["tags"] = memory["tags"] if tags is None else tags
        self._bytes += self._size(memory)
        memory["version"] += 1
        memory["updated_at"] = time.time()
        return memory

    def delete(self, memory_id: str) -> Memory | None:
        memory = self._items.pop(memory_id, None)
        if memory is not None:
            self._bytes -= self._size(memory)
        return memory

    def page(self, page: int, per_page: int) -> list[Memory]:
        """One page, newest first (``page`` starts at 1)."""
        start = (page - 1) * per_page
        return list(islice(reversed(self._items.values()), start, start + per_page))


class Stats:
    """Counters of what the server served (``/_stats`` itself is not counted)."""

    def __init__(self) -> None:
        self.requests_total = self.ws_connects = self.ws_messages_in = self.ws_messages_out = 0
        self.by_route: dict[str, int] = {}

    def count(self, key: str) -> None:
        self.requests_total += 1
        self.by_route[key] = self.by_route.get(key, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        return {**vars(self), "by_route": dict(self.by_route)}
