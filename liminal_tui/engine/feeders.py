"""``[[data]]`` feeders in a worker: rows loaded once, handed to users per user, in turn or at random.

Worker k of N keeps rows k, k+N, k+2N ... (all rows when there are fewer rows than workers), so
``per_user`` and ``sequential`` hand each row out once across the run before recycling.
"""

from __future__ import annotations

import random
from typing import Any

from ..profile.data_files import read_rows
from ..profile.flow_models import DataFile

__all__ = ["Feeder", "load_feeders"]


class Feeder:
    """One ``[[data]]`` file's rows in this worker."""

    __slots__ = ("name", "pick", "recycle", "rows", "next_index")

    def __init__(self, spec: DataFile, rows: list[dict[str, Any]], index: int, count: int) -> None:
        self.name = spec.name
        self.pick = spec.pick
        self.recycle = spec.on_end == "recycle"
        self.rows = rows[index::count] if len(rows) >= count else rows
        self.next_index = 0

    def take(self) -> dict[str, Any] | None:
        """The next row (``random``: any row); None when every row is used and ``on_end = "stop_user"``."""
        if self.pick == "random":
            return random.choice(self.rows)
        if self.next_index >= len(self.rows):
            if not self.recycle:
                return None
            self.next_index = 0
        row = self.rows[self.next_index]
        self.next_index += 1
        return row


def load_feeders(specs: list[DataFile], index: int, count: int) -> list[Feeder]:
    return [Feeder(spec, read_rows(spec.file)[0], index, count) for spec in specs]
