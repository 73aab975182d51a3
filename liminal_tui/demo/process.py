"""Run the demo target in its own process (``python -m liminal_tui.demo``).

Only the standard library is imported here; the child imports aiohttp.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

_READY = re.compile(r"demo target listening on (\S+)")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # directory holding liminal_tui/
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DemoProcess:
    """The demo server in a child process on 127.0.0.1 with a free port.

    Use ``with DemoProcess() as demo:`` or ``async with DemoProcess() as demo:``
    (start/stop then run in a worker thread); ``demo.url`` is the base URL.
    """

    def __init__(self, heartbeat_interval: float = 5.0, startup_timeout: float = 10.0,
                 stop_timeout: float = 5.0) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.url: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._stderr: collections.deque[str] = collections.deque(maxlen=50)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def port(self) -> int | None:
        return int(self.url.rsplit(":", 1)[1]) if self.url else None

    @property
    def returncode(self) -> int | None:
        """Exit status once the child has exited, else None."""
        return self._proc.poll() if self._proc else None

    def start(self) -> DemoProcess:
        """Spawn the child and wait until ``/health`` answers; RuntimeError if it doesn't."""
        if self._proc is not None:
            raise RuntimeError("DemoProcess already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        cmd = [sys.executable, "-m", "liminal_tui.demo", "--host", "127.0.0.1", "--port", "0",
               "--heartbeat-interval", str(self.heartbeat_interval), "--parent-pid", str(os.getpid())]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, env=env, text=True,
                                      encoding="utf-8", errors="replace")
        self._reader = threading.Thread(target=self._read_stderr, name="demo-stderr", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        try:
            self._ready.wait(self.startup_timeout)
            if self.url is None:
                raise self._failure("did not report its address")
            self._wait_healthy(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the child (kill it after ``stop_timeout``) and reap it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(1.0)
        if proc.stderr is not None:
            proc.stderr.close()

    def _read_stderr(self) -> None:
        """Find the "listening on" line, then keep draining so the child never blocks."""
        assert self._proc is not None and self._proc.stderr is not None
        try:
            for line in self._proc.stderr:
                self._stderr.append(line.rstrip())
                match = _READY.search(line) if self.url is None else None
                if match:
                    self.url = match.group(1)
                    self._ready.set()
        except (OSError, ValueError):  # pipe closed by stop()
            pass
        finally:
            self._ready.set()

    def _wait_healthy(self, deadline: float) -> None:
        while True:
            try:
                with _NO_PROXY.open(f"{self.url}/health", timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if self.returncode is not None or time.monotonic() > deadline:
                raise self._failure("did not answer /health")
            time.sleep(0.05)

    def _failure(self, what: str) -> RuntimeError:
        code = self.returncode
        state = "running" if code is None else f"exit code {code}"
        tail = "\n".join(self._stderr) or "(no output)"
        return RuntimeError(f"demo server {what} within {self.startup_timeout:g}s "
                            f"({state}); stderr:\n{tail}")

    def __enter__(self) -> DemoProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> DemoProcess:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)
