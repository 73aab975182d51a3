"""websockets' client connection, handing each data message to its connection's owner as it arrives.

:func:`delivering_connection` is the class :class:`.ws.WsConnection` connects with (websockets'
``create_connection``, its documented way to use a subclass). What is read goes first to its
:class:`.ws_frames.FrameSplitting` base, which hands each whole, unfragmented data frame to
``owner._message`` and the rest, whole frames, to websockets' ``data_received``; there
``process_event``, which the library calls for each parsed frame, gives data frames (fragments) to
``owner._frame`` instead of the queue that ``recv()`` reads, so no task has to read the connection;
control frames and the handshake go on as before. ``send_now`` is ``send()`` without the context
manager where it would not wait. From its handshake on, the connection's reads are handed to an
:class:`.ws_arrival.ArrivalReader` where they can be, which sets ``arrival_ns`` for the frames of each
read (and ``pong_ns`` for a pong).

:func:`text_frame` is websockets' own frame, made for the one case the steps send: a whole, uncompressed
text message from a client (masked, as RFC 6455 requires). The library builds a ``Frame``, checks it,
writes it through a ``BytesIO`` and draws each frame's 4-byte masking key with ``secrets.token_bytes`` (a
``getrandom`` system call a frame): ~40 % of a ``ws_send``'s CPU. Here the keys come from the same source,
``os.urandom``, drawn 4 KiB at a time; the payload is masked by websockets' own ``apply_mask`` (C).
"""

from __future__ import annotations

import os
import struct
from typing import Any

from websockets.frames import Frame, Opcode, apply_mask
from websockets.protocol import State

from .ws_arrival import ArrivalBudget, ArrivalReader
from .ws_frames import FrameSplitting

__all__ = ["delivering_connection", "text_frame"]

_KEYS = 1024
"""Masking keys drawn from ``os.urandom`` at a time."""
_pool = b""
_next = 0


def text_frame(data: bytes) -> bytes:
    """A final, masked text frame of ``data`` (UTF-8), byte for byte what websockets would send but for its
    random key."""
    global _pool, _next
    if _next >= len(_pool):
        _pool, _next = os.urandom(4 * _KEYS), 0
    key = _pool[_next:_next + 4]
    _next += 4
    n = len(data)
    head = (b"\x81" + bytes((0x80 | n,)) if n < 126 else struct.pack("!BBH", 0x81, 0xFE, n) if n < 65536
            else struct.pack("!BBQ", 0x81, 0xFF, n))
    return head + key + apply_mask(data, key)

_DATA = frozenset((Opcode.TEXT, Opcode.BINARY, Opcode.CONT))
_PONG = Opcode.PONG
_OPEN = State.OPEN
_delivering: Any = None


def delivering_connection() -> Any:
    """:class:`_Delivering`, defined on first use (websockets' asyncio client is imported by the first connect)."""
    global _delivering
    if _delivering is None:
        from websockets.asyncio.client import ClientConnection

        class _Delivering(FrameSplitting, ClientConnection):  # type: ignore[misc]
            """See the module's docstring; ``owner`` is the :class:`.ws.WsConnection`."""

            def __init__(self, owner: Any, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.owner = owner
                self.arrival_ns = 0
                """While an :class:`.ws_arrival.ArrivalReader`'s read is handed over: when its data reached
                this host (``perf_counter_ns``); 0: not known (read by uvloop)."""
                self.reader: ArrivalReader | None = None
                self.pong_ns = 0
                """The arrival of the latest pong (``arrival_ns``; 0: none, or read by uvloop)."""
                self._split_init(owner.max_size)

            async def handshake(self, *args: Any, **kwargs: Any) -> None:
                """Read the socket with the kernel's arrival stamps from the handshake on, where it can be
                (:mod:`.ws_arrival`): the response and whatever comes in its read (a greeting, a broadcast)
                are stamped as every later read is. Here, not in ``connection_made``, because uvloop starts
                its transport's reads after that returns; and nothing can arrive before the request."""
                budget: ArrivalBudget | None = self.owner.arrivals
                if budget is not None:
                    self.reader = ArrivalReader.start(self, budget)
                await super().handshake(*args, **kwargs)

            def connection_lost(self, exc: Exception | None) -> None:
                if self.reader is not None:
                    self.reader.stop()
                    self.reader = None
                super().connection_lost(exc)

            def process_event(self, event: Any) -> None:
                if event.__class__ is Frame and event.opcode in _DATA:
                    self.owner._frame(self, event)
                else:
                    if event.__class__ is Frame and event.opcode is _PONG:
                        self.pong_ns = self.arrival_ns
                    super().process_event(event)

            def send_now(self, text: str) -> bool:
                """``send(text)`` where it would not wait: the connection open, the write buffer under its
                limit. Its ``send_context`` (an async context manager, a ``drain()`` coroutine) cost ~1.5 us
                of a ~30-us echo. False: not so (``send()`` waits, or raises the close)."""
                protocol = self.protocol
                if protocol.state is not _OPEN or self.paused:
                    return False
                if protocol.extensions or protocol.expect_continuation_frame or protocol.writes:
                    protocol.send_text(text.encode())  # the library's frame (compression, or bytes queued first)
                    try:
                        self.send_data()
                    except Exception:  # as send(): the connection is done for
                        self.transport.abort()
                        raise
                    return True
                self.transport.write(text_frame(text.encode()))
                return True

        _delivering = _Delivering
    return _delivering
