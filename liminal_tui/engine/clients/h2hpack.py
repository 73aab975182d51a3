"""HPACK coders that remember blocks where that gives exactly what hpack would (the HTTP/2 client's).

hpack's Huffman coding is pure Python (~30 us for a response's few literal headers); a load test sends the
same requests and gets the same responses again and again, so most blocks have been coded before.
"""

from __future__ import annotations

from typing import Any

from hpack import Decoder, Encoder

__all__ = ["RememberingDecoder", "RememberingEncoder"]


class RememberingDecoder(Decoder):
    """HPACK decoding with the answers of blocks that touch no dynamic table remembered: a server that
    does not index its response headers (nginx) sends the same block for every response of a second
    (~30 us of pure-Python Huffman decoding each time otherwise)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[bytes, list] = {}

    def decode(self, data: bytes, raw: bool = False) -> Any:
        table = self.header_table.dynamic_entries
        if table or not raw or data[:1] and data[0] & 0xE0 == 0x20:  # indexed state, or a table size update
            return super().decode(data, raw)
        hit = self.seen.get(data)
        if hit is not None:
            return list(hit)
        headers = super().decode(data, raw)
        if not table:  # still empty: the block's meaning depends on nothing but its bytes
            if len(self.seen) >= 64:
                self.seen.clear()
            self.seen[bytes(data)] = list(headers)
        return headers


class RememberingEncoder(Encoder):
    """HPACK encoding with the block of a header list remembered while the dynamic table stays as it was
    (the same request again is the same bytes; any change to the table forgets them all). Our header
    lists hold plain tuples only (no never-indexed ones, which compare equal to plain ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[tuple, bytes] = {}
        self.mark: Any = None
        """The newest dynamic-table entry when ``seen`` was filled: every addition replaces it."""

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        table = self.header_table
        entries = table.dynamic_entries
        key = tuple(headers)
        mark = entries[0] if entries else None
        if table.resized or mark is not self.mark:
            self.seen.clear()
            self.mark = mark
        else:
            hit = self.seen.get(key)
            if hit is not None:
                return hit
        out = super().encode(key, huffman)
        if (entries[0] if entries else None) is mark:
            if len(self.seen) >= 64:
                self.seen.clear()
            self.seen[key] = out
        return out
