"""The frame splitting (``engine/clients/ws_frames.py``) against websockets' own parser.

Each case is a byte stream as a server sends it (the handshake's response, then frames), fed to the
splitter in chunks of every size from 1 byte up, with websockets' real Sans-I/O client protocol behind
it; the messages, control frames and close it ends with must be what websockets alone makes of the
same stream in one piece.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri
from websockets.utils import accept_key

from liminal_tui.engine.clients.ws_frames import FrameSplitting

LIMIT = 1 << 20


def _client() -> ClientProtocol:
    proto = ClientProtocol(parse_uri("ws://127.0.0.1/ws"), max_size=LIMIT)
    request = proto.connect()
    proto.send_request(request)
    proto.data_to_send()
    return proto


def _response(proto: ClientProtocol, status: int = 101, body: bytes = b"") -> bytes:
    if status == 101:
        return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept_key(proto.key).encode() + b"\r\n\r\n")
    return b"HTTP/1.1 %d Nope\r\nContent-Length: %d\r\n\r\n" % (status, len(body)) + body


def _frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, mask: bool = False) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask else 0
    head = (bytes((b0, m | n)) if n < 126 else struct.pack("!BBH", b0, m | 126, n) if n < 65536
            else struct.pack("!BBQ", b0, m | 127, n))
    if mask:
        head += b"\0\0\0\0"  # a zero key: the payload is as it is
    return head + payload


def _outcome(proto: ClientProtocol, events: list[Any]) -> list[Any]:
    messages: list[tuple[bytes, bool]] = []
    control: list[tuple[str, bytes]] = []
    parts: list[bytes] = []
    text = False
    for event in events:
        if isinstance(event, Response):
            continue
        assert isinstance(event, Frame)
        if event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            if event.opcode is not Opcode.CONT:
                parts, text = [], event.opcode is Opcode.TEXT
            parts.append(event.data)
            if event.fin:
                messages.append((b"".join(parts), text))
        else:
            control.append((event.opcode.name, event.data))
    close = proto.close_sent.code if proto.close_sent is not None else None
    return [messages, control, proto.state.name, close]


class _Websockets:
    """What :class:`FrameSplitting` sits in front of: websockets' ``data_received``, here on its real
    Sans-I/O client protocol, keeping what it was given and the events it made."""

    def __init__(self, proto: ClientProtocol) -> None:
        self.protocol = proto
        self.given: list[bytes] = []
        self.events: list[Any] = []
        self.delivered: list[tuple[bytes, bool]] = []
        self.eof = False

    def data_received(self, data: bytes) -> None:
        self.given.append(data)
        self.protocol.receive_data(data)
        self.events.extend(self.protocol.events_received())

    def eof_received(self) -> None:
        self.eof = True
        self.protocol.receive_eof()


class _Connection(FrameSplitting, _Websockets):
    """The splitting in front of it, as in the engine's connection (``owner`` is the connection itself)."""

    def __init__(self, proto: ClientProtocol) -> None:
        super().__init__(proto)
        self.owner = self
        self._split_init(LIMIT)

    def _message(self, ws: Any, data: bytes, is_text: bool) -> None:
        assert ws is self
        # in order with websockets' own events, as it would have ordered them
        self.delivered.append((data, is_text))
        self.events.append(Frame(Opcode.TEXT if is_text else Opcode.BINARY, data))


def _split(stream: bytes, chunk: int, seed: int = 0) -> tuple[list[Any], _Connection]:
    """The stream through the splitting in chunks of ``chunk`` bytes (0: random sizes)."""
    proto = _client()
    conn = _Connection(proto)
    stream = _response(proto) + stream
    rnd = random.Random(seed)
    i = 0
    while i < len(stream):
        n = chunk or rnd.randint(1, 300)
        conn.data_received(stream[i:i + n])
        i += n
    return _outcome(proto, conn.events), conn


STREAMS = {
    "messages of every length field": b"".join([
        _frame(1, b"hello"), _frame(2, b"\x00\xff" * 3), _frame(1, b"x" * 125), _frame(1, b"y" * 126),
        _frame(2, b"z" * 70_000), _frame(1, b""),
    ]),
    "control frames between messages": b"".join([
        _frame(1, b"a"), _frame(9, b"ping!"), _frame(1, b"b"), _frame(10, b"pong"), _frame(2, b"c"),
    ]),
    "a fragmented message, a ping inside it": b"".join([
        _frame(1, b"one ", fin=False), _frame(0, b"two ", fin=False), _frame(9, b"p"), _frame(0, b"three"),
        _frame(1, b"after"),
    ]),
    "a close, then a frame the protocol no longer reads": _frame(1, b"last") + _frame(8, b"\x03\xe8bye") + _frame(1, b"gone"),
    "a masked frame (a server must not mask)": _frame(1, b"ok") + _frame(1, b"masked", mask=True) + _frame(1, b"never"),
    "a reserved bit without an extension": _frame(1, b"ok") + _frame(1, b"rsv", rsv=0x40) + _frame(1, b"never"),
    "a new message inside a fragmented one": _frame(1, b"ok") + _frame(1, b"a", fin=False) + _frame(1, b"b") + _frame(1, b"c"),
    "over the size limit": _frame(1, b"ok") + _frame(2, b"q" * (LIMIT + 1)) + _frame(1, b"never"),
}


@pytest.mark.parametrize("name", list(STREAMS))
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20, 0])
def test_the_splitter_and_websockets_alone_make_the_same_of_a_stream(name: str, chunk: int) -> None:
    stream = STREAMS[name]
    proto = _client()
    proto.receive_data(_response(proto) + stream)
    expected = _outcome(proto, proto.events_received())
    got, _ = _split(stream, chunk, seed=len(name))
    assert got == expected
    assert expected[0], "every stream has a message before anything goes wrong"


def test_websockets_is_given_whole_frames_only_and_the_usual_message_not_at_all() -> None:
    stream = STREAMS["control frames between messages"]
    _, conn = _split(stream, 1)
    given = conn.given
    assert conn.delivered == [(b"a", True), (b"b", True), (b"c", False)]
    handshake_pieces = [g for g in given if not g or g[0:1] not in (b"\x89", b"\x8a")]
    assert {g for g in given if g[:1] in (b"\x89", b"\x8a")} == {_frame(9, b"ping!"), _frame(10, b"pong")}
    assert all(b"HTTP" in g or len(g) == 1 for g in handshake_pieces)  # the head, a byte at a time
    assert not any(_frame(1, b"a") in g or _frame(2, b"c") in g for g in given)


def test_a_refused_handshake_leaves_everything_to_websockets() -> None:
    proto = _client()
    conn = _Connection(proto)
    body = _frame(1, b"not a frame: the body of a 403")
    conn.data_received(_response(proto, 403, body))
    assert proto.state is not State.OPEN and proto.handshake_exc is not None
    assert b"".join(conn.given) == _response(proto, 403, body) and conn.delivered == []


def test_a_frame_cut_short_by_the_end_of_the_stream_goes_to_websockets() -> None:
    proto = _client()
    conn = _Connection(proto)
    conn.data_received(_response(proto) + _frame(1, b"whole") + _frame(1, b"cut short")[:5])
    assert conn.delivered == [(b"whole", True)]
    assert proto.reader.buffer == b""  # held back, websockets still between frames
    conn.eof_received()
    assert conn.eof and conn.given[-1] == _frame(1, b"cut short")[:5]  # given to websockets, then the end
    assert proto.state is State.CLOSED and proto.close_sent is None  # abnormal end, 1006, as without it
    assert isinstance(proto.parser_exc, EOFError)
