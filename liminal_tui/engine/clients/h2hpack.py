"""HPACK coders that remember blocks where that gives exactly what hpack would (the HTTP/2 client's).

hpack's Huffman coding is pure Python (~30 us for a response's few literal headers); a load test sends the
same requests and gets the same responses again and again, so most blocks have been coded before.
"""

from __future__ import annotations

from typing import Any

from hpack import Decoder, Encoder, NeverIndexedHeaderTuple

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
    """HPACK encoding with each header's representation remembered while the dynamic table stays as it
    was: a block is then the join of its headers' bytes, and only a header not seen since the table last
    changed goes through hpack (which may add it to the table: then everything remembered is forgotten,
    the indices having moved). A header that would be added is not remembered (its bytes say "add"); the
    next time it is an index. Send values that vary (``:path``, ``content-length``) as
    :class:`hpack.NeverIndexedHeaderTuple`, always for the same name: they leave the table alone, and a
    plain and a never-indexed tuple of the same bytes compare equal here."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[tuple, bytes] = {}

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        table = self.header_table
        if table.resized:  # the block opens with a table size update
            self.parts.clear()
            return super().encode(headers, huffman)
        parts, entries, out = self.parts, table.dynamic_entries, []
        for header in headers:
            part = parts.get(header)
            if part is None:
                mark = entries[0] if entries else None
                # a varying value is sent raw: pure-Python Huffman coding costs more than its few bytes
                part = super().encode((header,), huffman and not isinstance(header, NeverIndexedHeaderTuple))
                if (entries[0] if entries else None) is not mark:
                    parts.clear()
                else:
                    if len(parts) >= 512:
                        parts.clear()
                    parts[header] = part
            out.append(part)
        return b"".join(out)
