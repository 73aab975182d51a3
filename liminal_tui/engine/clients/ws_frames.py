"""Whole data frames taken from a WebSocket client's input before websockets' parser sees them.

websockets parses with generators (Sans-I/O: ``Protocol.parse`` → ``Frame.parse`` → ``StreamReader``),
and builds an ``Opcode``, a ``Frame`` and an events list for every frame: ~21 % of a worker's CPU in a
``ws_send``/``ws_wait`` echo (py-spy, ``bench/ws_throughput.py``; its send and wait steps took ~30 %).
:class:`FrameSplitter` reads the frame headers of what arrives and hands each **whole, final, unmasked
text or binary frame with no reserved bit** (the usual message) straight to its owner. Everything else
is handed to websockets whole, one frame at a time: control frames (ping, pong, close), fragments,
masked or reserved-bit frames (which websockets fails as the protocol says), and any frame once the
connection is no longer open; a frame over the size limit goes to websockets from its header on, and
websockets fails the connection (close 1009) as before.

websockets' parser is only ever given whole frames, so it stays between frames, where it waits in
``at_eof``, and takes up exactly where it would have been. That holds from the start because the
splitter gives websockets the handshake's response head alone (up to its blank line: a ``101`` has no
body) and frames what follows; if the handshake did not open the connection, everything goes to
websockets from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.protocol import State

__all__ = ["FrameSplitter"]

_HEAD_END = b"\r\n\r\n"
_OPEN = State.OPEN


class FrameSplitter:
    """The input of one connection: ``feed`` takes what was read; ``deliver(data, is_text)`` gets each
    whole data frame's payload; ``parse(data)`` is websockets' ``data_received`` for the rest."""

    __slots__ = ("protocol", "deliver", "parse", "limit", "pending", "state", "_tail")

    HANDSHAKE, FRAMING, PASS = 0, 1, 2

    def __init__(self, protocol: Any, deliver: Callable[[bytes, bool], None], parse: Callable[[bytes], None],
                 limit: int | None) -> None:
        self.protocol = protocol
        self.deliver = deliver
        self.parse = parse
        self.limit = limit
        """The largest payload delivered here (the connection's ``max_size``); a larger one goes to websockets."""
        self.pending = bytearray()
        """The start of a frame whose rest has not arrived yet."""
        self.state = self.HANDSHAKE
        self._tail = b""
        """The end of the handshake's bytes so far (its blank line can straddle two reads)."""

    def feed(self, data: bytes) -> None:
        state = self.state
        if state != self.FRAMING:
            if state == self.PASS:
                self.parse(data)
                return
            data = self._handshake(data)
            if not data:
                return
        pending = self.pending
        if pending:
            pending += data
            data = pending
        self._frames(data)

    def flush(self) -> None:
        """Give websockets what is left of a frame that will not be finished (the end of the stream)."""
        if self.pending:
            rest, self.pending = bytes(self.pending), bytearray()
            self.parse(rest)
        self.state = self.PASS

    def _handshake(self, data: bytes) -> bytes:
        """Give websockets the response head and return what came after it (nothing while it is not all in)."""
        seen = self._tail + data
        end = seen.find(_HEAD_END)
        if end < 0:
            self._tail = seen[-3:]
            self.parse(data)
            return b""
        cut = end + 4 - len(self._tail)
        self._tail = b""
        self.parse(data[:cut])
        if self.protocol.state is not _OPEN:
            self.state = self.PASS  # refused, or broken: websockets reads the rest as it would have
            rest = data[cut:]
            if rest:
                self.parse(rest)
            return b""
        self.state = self.FRAMING
        return data[cut:]

    def _frames(self, data: bytes | bytearray) -> None:
        n = len(data)
        i = 0
        protocol = self.protocol
        opened = _OPEN
        limit = self.limit
        while n - i >= 2:
            b0 = data[i]
            b1 = data[i + 1]
            size = b1 & 0x7F
            start = i + 2
            if size >= 126:
                wide = 2 if size == 126 else 8
                if n - start < wide:
                    break
                size = int.from_bytes(data[start:start + wide], "big")
                start += wide
            if b1 & 0x80:
                start += 4  # masked: websockets fails it (a server must not mask)
            end = start + size
            fast = (b0 & 0xF0) == 0x80 and 1 <= (b0 & 0x0F) <= 2 and not b1 & 0x80
            if limit is not None and size > limit:  # websockets fails it on its header (1009), not after it
                self._rest_to_websockets(data, i)
                return
            if end > n:
                break
            if fast and protocol.state is opened and protocol.current_size is None:  # no fragmented message open
                self.deliver(bytes(data[start:end]) if data.__class__ is bytearray else data[start:end], b0 & 0x0F == 1)
            else:
                self.parse(bytes(data[i:end]))
                if protocol.state is not opened:  # closing or failed: websockets has the rest
                    self._rest_to_websockets(data, end)
                    return
            i = end
        if data is self.pending:
            del data[:i]
        elif i < n:
            self.pending = bytearray(data[i:])

    def _rest_to_websockets(self, data: bytes | bytearray, i: int) -> None:
        self.state = self.PASS
        rest = bytes(data[i:])
        self.pending = bytearray()
        if rest:
            self.parse(rest)
