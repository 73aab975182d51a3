"""Whole data frames taken from a WebSocket client's input before websockets' parser sees them.

websockets parses with generators (Sans-I/O: ``Protocol.parse`` → ``Frame.parse`` → ``StreamReader``),
and builds an ``Opcode``, a ``Frame`` and an events list for every frame: ~21 % of a worker's CPU in a
``ws_send``/``ws_wait`` echo (py-spy, ``bench/ws_throughput.py``; its send and wait steps took ~30 %).
:class:`FrameSplitting`, a base of the engine's websockets connection, reads the frame headers of what
arrives and hands each **whole, final, unmasked text or binary frame with no reserved bit** (the usual
message) straight to its owner's ``_message``. Everything else is handed to websockets whole, one frame
at a time: control frames (ping, pong, close), fragments, masked or reserved-bit frames (which websockets
fails as the protocol says), and any frame once the connection is no longer open; a frame over the size
limit goes to websockets from its header on, and websockets fails the connection (close 1009) as before.

websockets' parser is only ever given whole frames, so it stays between frames, where it waits in
``at_eof``, and takes up exactly where it would have been. That holds from the start because the
splitting gives websockets the handshake's response head alone (up to its blank line: a ``101`` has no
body) and frames what follows; if the handshake did not open the connection, everything goes to
websockets from then on.

A base class rather than an object of its own: it keeps four attributes on the connection and adds
no object to it (held by the thousand, as connections are, every object counts for memory and for the
collector).
"""

from __future__ import annotations

from typing import Any

from websockets.protocol import State

__all__ = ["FrameSplitting"]

_HEAD_END = b"\r\n\r\n"
_OPEN = State.OPEN
_HANDSHAKE, _FRAMING, _PASS = 0, 1, 2


class FrameSplitting:
    """Put before websockets' ``ClientConnection`` in a connection's bases, and call :meth:`_split_init`
    from its ``__init__``. ``data_received`` splits; each whole data frame's payload goes to
    ``self.owner._message(self, payload, is_text)``; the rest to the next base's ``data_received``."""

    protocol: Any
    owner: Any

    def _split_init(self, limit: int | None) -> None:
        self._split_state = _HANDSHAKE
        self._split_pending: bytearray | None = None
        """The start of a frame whose rest has not arrived yet (None: nothing held)."""
        self._split_tail = b""
        """The handshake's last bytes so far (its blank line can straddle two reads)."""
        self._split_limit = limit
        """The largest payload delivered here (the connection's ``max_size``): a larger one goes to websockets."""

    def data_received(self, data: bytes) -> None:
        state = self._split_state
        if state != _FRAMING:
            if state == _PASS:
                super().data_received(data)  # type: ignore[misc]
                return
            data = self._split_handshake(data)
            if not data:
                return
        pending = self._split_pending
        if pending is not None:
            pending += data
            data = pending
        self._split(data)

    def eof_received(self) -> Any:
        """A frame cut short goes to websockets, which fails it (1006) as without the splitting."""
        pending = self._split_pending
        self._split_state, self._split_pending = _PASS, None
        if pending:
            super().data_received(bytes(pending))  # type: ignore[misc]
        return super().eof_received()  # type: ignore[misc]

    def _split_handshake(self, data: bytes) -> bytes:
        """Give websockets the response head; return what came after it (nothing while it is not all in)."""
        tail = self._split_tail
        seen = tail + data
        end = seen.find(_HEAD_END)
        if end < 0:
            self._split_tail = seen[-3:]
            super().data_received(data)  # type: ignore[misc]
            return b""
        cut = end + 4 - len(tail)
        self._split_tail = b""
        super().data_received(data[:cut])  # type: ignore[misc]
        if self.protocol.state is not _OPEN:  # refused, or broken: websockets reads the rest as it would have
            self._split_state = _PASS
            if len(data) > cut:
                super().data_received(data[cut:])  # type: ignore[misc]
            return b""
        self._split_state = _FRAMING
        return data[cut:]

    def _split(self, data: bytes | bytearray) -> None:
        n = len(data)
        i = 0
        protocol = self.protocol
        opened = _OPEN
        limit = self._split_limit
        message = self.owner._message
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
            if limit is not None and size > limit:  # websockets fails it on its header (1009), not after it
                self._split_rest(data, i)
                return
            end = start + size
            if end > n:
                break
            if (b0 & 0xF0) == 0x80 and 1 <= (b0 & 0x0F) <= 2 and not b1 & 0x80 and protocol.state is opened \
                    and protocol.current_size is None:  # final, unmasked, no RSV, no fragmented message open
                message(self, bytes(data[start:end]) if data.__class__ is bytearray else data[start:end], b0 & 0x0F == 1)
            else:
                super().data_received(bytes(data[i:end]))  # type: ignore[misc]
                if protocol.state is not opened:  # closing or failed: websockets has the rest
                    self._split_rest(data, end)
                    return
            i = end
        if data is self._split_pending:
            if i == n:
                self._split_pending = None
            else:
                del data[:i]
        elif i < n:
            self._split_pending = bytearray(data[i:])

    def _split_rest(self, data: bytes | bytearray, i: int) -> None:
        self._split_state, self._split_pending = _PASS, None
        if len(data) > i:
            super().data_received(bytes(data[i:]))  # type: ignore[misc]
