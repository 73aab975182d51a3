"""websockets' client connection, handing each data frame to its connection's owner as it is parsed.

:func:`delivering_connection` is the class :class:`.ws.WsConnection` connects with (websockets'
``create_connection``, its documented way to use a subclass): ``process_event``, which the library calls
for each parsed frame inside ``data_received``, gives data frames to ``owner._frame`` instead of the
queue that ``recv()`` reads, so no task has to read the connection; control frames and the handshake go
on as before. ``send_now`` is ``send()`` without the context manager where it would not wait.
"""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

__all__ = ["delivering_connection"]

_DATA = frozenset((Opcode.TEXT, Opcode.BINARY, Opcode.CONT))
_OPEN = State.OPEN
_delivering: Any = None


def delivering_connection() -> Any:
    """:class:`_Delivering`, defined on first use (websockets' asyncio client is imported by the first connect)."""
    global _delivering
    if _delivering is None:
        from websockets.asyncio.client import ClientConnection

        class _Delivering(ClientConnection):  # type: ignore[misc]
            """See the module's docstring; ``owner`` is the :class:`.ws.WsConnection`."""

            def __init__(self, owner: Any, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.owner = owner

            def process_event(self, event: Any) -> None:
                if event.__class__ is Frame and event.opcode in _DATA:
                    self.owner._frame(self, event)
                else:
                    super().process_event(event)

            def send_now(self, text: str) -> bool:
                """``send(text)`` where it would not wait: the connection open, the write buffer under its
                limit. Its ``send_context`` (an async context manager, a ``drain()`` coroutine) cost ~1.5 us
                of a ~30-us echo. False: not so (``send()`` waits, or raises the close)."""
                if self.protocol.state is not _OPEN or self.paused:
                    return False
                self.protocol.send_text(text.encode())
                try:
                    self.send_data()
                except Exception:  # as send(): the connection is done for
                    self.transport.abort()
                    raise
                return True

        _delivering = _Delivering
    return _delivering
