"""A WebSocket's socket read with the kernel's time of arrival, so that a message is timed from when it
reached this host, not from when a busy worker got round to reading it.

A worker serving 1,000 connections reads a broadcast's 1,000 frames one after another, ~35 us of Python
each: the last is read tens of milliseconds after it arrived (measured: kernel arrival to read p50 6 ms,
p99 33 ms, max 44 ms in ``bench/ws_fanout.py``), and a stamp taken at the read puts the generator's own
queue into the server's latency. Linux stamps every received packet when a socket asks for it
(``SO_TIMESTAMPNS``) and hands the stamp of the latest packet read to ``recvmsg``.

So, as websockets' handshake begins on uvloop's transport, :class:`ArrivalReader` takes over the
socket's reads: a second descriptor of the same socket (``dup``), read with ``recvmsg_into`` when the loop
says it is readable, each read handed to the connection (its ``data_received``) with its arrival
on the connection as ``arrival_ns`` (``perf_counter_ns``, the engine's clock). uvloop's transport is
paused for reading and goes on writing; when the connection is lost the reader goes with it.

What it cannot do, and what happens then (a message is stamped at its read, as before):

* ``wss://``: the bytes on the socket are TLS records that uvloop's transport decrypts.
* Not Linux, or a kernel that gives no stamp.
* Past the worker's budget (:class:`ArrivalBudget`): each connection read so takes a second descriptor,
  so at most a fifth of the open-files limit goes to them.

And one thing no reader can: two frames that arrive on one socket before it is read both carry the later
one's arrival. The kernel merges the second packet into the first while both wait in the receive queue
and keeps the newer stamp (``tcp_try_coalesce``), so even a read of the first frame's bytes alone gets
the second's (measured: two sends 50 ms apart, a read of the first 10 bytes stamped with the second). It
takes a worker that falls behind a socket by more than the gap between two of its messages; the earlier
message is then timed late by at most that lag, as it would be if stamped at the read.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time
from typing import Any

__all__ = ["ArrivalBudget", "ArrivalReader", "SO_TIMESTAMPNS"]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform.startswith("linux") else None)
"""The option that has the kernel stamp a socket's received packets (Linux; Python does not name it)."""
READ_SIZE = 256 * 1024
"""Bytes read at most per ``recvmsg`` (as much as uvloop reads)."""
_CMSG = socket.CMSG_SPACE(16) if SO_TIMESTAMPNS is not None else 0
_TIMESPEC = struct.Struct("@qq")
_buffer = bytearray(READ_SIZE)
_view = memoryview(_buffer)
"""The worker's one read buffer (``recvmsg`` of 256 KiB would allocate one a call, by ``mmap``)."""


class ArrivalBudget:
    """How many more of a worker's connections may be read by an :class:`ArrivalReader`: a fifth of the
    open-files limit, since each takes a second descriptor (the rest are read by uvloop alone), so a
    worker can still open at least four fifths of the connections it could without any.

    It also holds the kernel's stamping on for as long as it lives (``_keeper``): Linux stamps packets only
    while some socket on the host asks for it, and turns that on and off from a work queue, after the
    call. With no other socket asking, a new connection's first packets (the handshake's response, a
    greeting) could arrive before it was on, unstamped. Measured with both cores busy: 2,013 of 3,000
    first reads of a fresh socket came without a stamp; 0 of 3,000 with one UDP socket asking beside them."""

    __slots__ = ("left", "_keeper")

    def __init__(self, left: int | None = None) -> None:
        if left is None:
            left = 0
            if SO_TIMESTAMPNS is not None:
                import resource  # Unix only, as the option is

                left = resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 5
        self.left = left
        self._keeper: socket.socket | None = None
        if left > 0 and SO_TIMESTAMPNS is not None:
            try:
                keeper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound to nothing, never read
            except OSError:  # out of descriptors: the first reads may go unstamped (and are counted)
                return
            try:
                keeper.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            except OSError:
                keeper.close()
                return
            self._keeper = keeper

    def __del__(self) -> None:  # with its engine, at the end of the worker (closed, not left to the collector's warning)
        keeper = getattr(self, "_keeper", None)
        if keeper is not None:
            keeper.close()


class ArrivalReader:
    """Reads ``conn``'s socket (a websockets connection on a plain uvloop transport) with arrival stamps."""

    __slots__ = ("conn", "sock", "budget")

    def __init__(self, conn: Any, sock: socket.socket, budget: ArrivalBudget) -> None:
        self.conn = conn
        self.sock = sock
        self.budget = budget

    @classmethod
    def start(cls, conn: Any, budget: ArrivalBudget) -> ArrivalReader | None:
        """Take over ``conn``'s reads; None where it cannot (see the module's docstring), and nothing changed."""
        transport = conn.transport
        if budget.left <= 0 or transport.get_extra_info("sslcontext") is not None:
            return None
        raw = transport.get_extra_info("socket")
        if raw is None:
            return None
        try:
            sock = socket.socket(fileno=os.dup(raw.fileno()))
        except OSError:  # out of descriptors, or not a socket
            return None
        reader = cls(conn, sock, budget)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setblocking(False)
            conn.loop.add_reader(sock.fileno(), reader._readable)
        except (OSError, RuntimeError):
            sock.close()
            return None
        transport.pause_reading()
        budget.left -= 1
        return reader

    def _readable(self) -> None:
        conn = self.conn
        try:
            n, anc, _, _ = self.sock.recvmsg_into((_view,), _CMSG)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset: the connection is lost, as uvloop's own read would have it
            self.stop()
            conn.transport.abort()
            return
        if not n:  # the peer closed: as uvloop's transport does at the end of the stream
            self.stop()
            conn.eof_received()
            conn.transport.close()
            return
        if anc:
            sec, nsec = _TIMESPEC.unpack_from(anc[0][2])
            now = time.perf_counter_ns()
            at = now - (time.time_ns() - (sec * 1_000_000_000 + nsec))  # the stamp is on the wall clock
            conn.arrival_ns = at if at < now else now
        conn.data_received(_view[:n].tobytes())  # bytes: the splitting slices payloads from it in one copy
        conn.arrival_ns = 0

    def stop(self) -> None:
        """Stop reading and close the second descriptor (the connection's own stays with uvloop)."""
        sock = self.sock
        if sock.fileno() >= 0:
            self.conn.loop.remove_reader(sock.fileno())
            sock.close()
            self.budget.left += 1
