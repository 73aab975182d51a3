"""One browser tab: one app process, driven through textual-serve's ``AppService``.

What differs from ``AppService`` (textual-serve 1.1.x, pinned in pyproject.toml because two of the
methods replaced here are private there):

- the app is started without a shell (``exec`` semantics: the process we signal *is* the app) and in a
  process group of its own, so a Ctrl-C in the server's terminal does not reach it directly;
- :meth:`AppSession.stop` sends SIGTERM instead of the driver's "quit" message: the app stops its run
  gracefully and writes the report (the same path as a SIGTERM in a terminal), then exits. After
  ``grace`` seconds whatever is left of the process group and the app's children is killed;
- output that arrives after the tab has gone is read and dropped (the app must not block on a full pipe
  while it writes its report).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
from typing import Sequence

import psutil
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

__all__ = ["AppSession"]

log = logging.getLogger("liminal_tui.web")


class AppSession(AppService):
    """The app process behind one WebSocket."""

    def __init__(self, argv: Sequence[str], websocket: web.WebSocketResponse, grace: float) -> None:
        super().__init__(shlex.join(argv), write_bytes=self._send_bytes, write_str=self._send_str,
                         close=self._close, download_manager=DownloadManager())
        self.argv = tuple(argv)
        """The app's command line, started as is (no shell)."""
        self.websocket = websocket
        self.grace = grace
        """Seconds the app gets after SIGTERM to stop its run and write its report, before it is killed."""
        self.dropped_bytes = 0
        """Output of the app that arrived after the tab had gone (read so the app never blocks, then dropped)."""
        self.exit_code: int | None = None
        """The app's exit code once :meth:`stop` has returned (130: a run was stopped by the SIGTERM)."""
        self.killed = 0
        """Processes of the session still alive after the grace period, killed with SIGKILL."""
        self.quitting = False
        """The app said it is exiting (the user quit): it gets no SIGTERM, only the wait."""
        self._stopping: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=environment, start_new_session=True)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def _send_bytes(self, data: bytes) -> None:
        if self.websocket.closed:
            self.dropped_bytes += len(data)
            return
        try:
            await self.websocket.send_bytes(data)
        except ConnectionResetError:  # the tab went between the check and the write
            self.dropped_bytes += len(data)

    async def _send_str(self, data: str) -> None:
        if self.websocket.closed:
            self.dropped_bytes += len(data)
            return
        try:
            await self.websocket.send_str(data)
        except ConnectionResetError:
            self.dropped_bytes += len(data)

    async def _close(self) -> None:
        """The app is exiting by itself (the user quit): close the tab's connection."""
        self.quitting = True
        await self.websocket.close()

    async def stop(self) -> None:
        """SIGTERM to the app, a bounded wait for its report, then nothing of the session is left.
        Every caller (the tab's handler, a server shutdown) waits for the same stop, which a
        cancelled caller does not interrupt."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        task, self._task = self._task, None
        process = self._process
        if task is None or process is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        family = _descendants(process.pid)
        if process.returncode is None and not self.quitting:
            try:
                process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass  # it exited on its own a moment ago: the wait below returns at once
        try:
            self.exit_code = await asyncio.wait_for(process.wait(), self.grace)
        except TimeoutError:
            log.warning("session %s: the app did not end %gs after SIGTERM; killing it", self.app_service_id[:8],
                        self.grace)
            # Not reaped yet, so its pid still names its process group: the whole group goes at once.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it ended in the meantime: its children are killed below
        self.killed = await asyncio.to_thread(_kill_leftovers, family)
        self.exit_code = await process.wait()
        await task  # ends at the end of the app's output (every writer is gone now)
        log.info("session %s ended: app exit code %s%s%s", self.app_service_id[:8], self.exit_code,
                 f", {self.killed} leftover process(es) killed" if self.killed else "",
                 f", {self.dropped_bytes} bytes of output after the tab closed" if self.dropped_bytes else "")


def _descendants(pid: int) -> list[psutil.Process]:
    """The app's children and theirs (its engine workers, the demo target), seen before it is signalled."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kill_leftovers(family: list[psutil.Process]) -> int:
    """SIGKILL to each child seen before the SIGTERM that has not ended within a moment of the app (psutil
    checks that a pid was not reused); returns how many. Blocking (it waits for them): run in a thread."""
    _, alive = psutil.wait_procs([p for p in family if _running(p)], timeout=2)
    for proc in alive:
        try:
            log.warning("killing %s (pid %d), left behind by the app", proc.name(), proc.pid)
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=5)
    return len(alive)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
