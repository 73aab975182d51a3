"""Reading ``[[data]]`` files: CSV with a header line, or JSON lines (one object a line).

Used twice: by the loader, to say before a run that a file or a column is missing, and by each worker,
which loads the rows once (:mod:`liminal_tui.engine.feeders`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

__all__ = ["DataFileError", "read_rows"]

MAX_BYTES = 256 * 1024 * 1024


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and, where known, the line."""


def read_rows(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, column names) of a ``.csv`` or ``.jsonl``/``.ndjson`` file; raise :class:`DataFileError`."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise DataFileError(f"{path}: larger than {MAX_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: cannot read: {exc}") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        columns = list(reader.fieldnames or [])
        if not columns:
            raise DataFileError(f"{path}: no header line (the first line names the columns)")
        rows = [dict(r) for r in reader]
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        rows, seen = [], {}
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataFileError(f"{path}: line {n} is not JSON ({exc.args[0]})") from None
            if not isinstance(row, dict):
                raise DataFileError(f"{path}: line {n} is not a JSON object")
            rows.append(row)
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    else:
        raise DataFileError(f"{path}: use a .csv, .jsonl or .ndjson file")
    if not rows:
        raise DataFileError(f"{path}: no rows")
    return rows, columns
