"""Dotted JSON paths, as checks and extraction use them: ``items.0.id``; ``items[*].id`` for a list."""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "json_path"]

MISSING = object()
"""What a path that leads nowhere gives."""


def json_path(doc: Any, path: str) -> Any:
    """``items.0.id`` -> doc["items"][0]["id"]; ``items[*].id`` -> [each["id"] for each in doc["items"]]
    (items without it left out); a missing part gives :data:`MISSING`."""
    if doc.__class__ is dict and "." not in path and "[" not in path:  # one key (a match, a stamp): ~5x faster
        return doc.get(path, MISSING)
    if "[*]" in path:
        head, _, tail = path.partition("[*]")
        items = json_path(doc, head) if head else doc
        if not isinstance(items, list):
            return MISSING
        tail = tail.lstrip(".")
        if not tail:
            return list(items)
        found = [json_path(item, tail) for item in items]
        return [v for v in found if v is not MISSING]
    node = doc
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part, MISSING)
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node
