"""``liminal-tui --web`` without a browser: the token, the Host and Origin checks, the session cap, the logs.

The server runs in the test's loop on 127.0.0.1; sessions start the real app. Browser tests: test_e2e_web.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil
import pytest
from aiohttp import web

pytest.importorskip("textual_serve", reason="the web extra is not installed (pip install -e '.[test]' installs it)")

from liminal_tui.web.security import COOKIE, is_loopback  # noqa: E402
from liminal_tui.web.server import WebConfig, WebServer, make_config  # noqa: E402

TOKEN = "t0ken-for-tests"


class Served:
    def __init__(self, server: WebServer, runner: web.AppRunner) -> None:
        self.server = server
        self.runner = runner
        self.port = runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{self.port}"


async def _serve(config: WebConfig) -> Served:
    server = WebServer(config)
    runner = web.AppRunner(server.make_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return Served(server, runner)


@pytest.fixture
async def with_token() -> AsyncIterator[Served]:
    served = await _serve(WebConfig(token=TOKEN, port=0))
    yield served
    await served.runner.cleanup()


@pytest.fixture
async def loopback() -> AsyncIterator[Served]:
    served = await _serve(WebConfig(port=0, max_sessions=1, stop_grace=10))
    yield served
    await served.runner.cleanup()


def test_a_token_is_required_off_loopback_and_on_request() -> None:
    assert make_config("127.0.0.1", 0, token=False, max_sessions=4).token is None
    assert make_config("::1", 0, token=False, max_sessions=4).token is None
    assert make_config("127.0.0.1", 0, token=True, max_sessions=4).token
    off = make_config("0.0.0.0", 0, token=False, max_sessions=4).token
    assert off and len(off) >= 40 and off != make_config("192.168.1.9", 0, token=False, max_sessions=4).token
    assert [is_loopback(h) for h in ("localhost", "127.0.0.2", "[::1]", "0.0.0.0", "example.com", "10.0.0.1")] == [
        True, True, True, False, False, False]


async def test_the_token_is_swapped_for_a_strict_httponly_cookie_and_a_clean_url(with_token: Served) -> None:
    async with aiohttp.ClientSession() as http:
        for url in ("/", "/?token=wrong", "/static/js/textual.js"):
            async with http.get(with_token.base + url) as response:
                assert response.status == 403, url
        async with http.get(f"{with_token.base}/?fontsize=20&token={TOKEN}", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/?fontsize=20"
            cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{COOKIE}={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        headers = {"Host": "tunnel.example:4321", "Cookie": cookie.split(";")[0]}  # as set by the exchange
        async with http.get(f"{with_token.base}/?fontsize=20", headers=headers) as response:
            assert response.status == 200
            page = await response.text()
            csp = response.headers["Content-Security-Policy"]
    # Nothing from another origin: every URL in the page is a path on this server, or its WebSocket.
    assert "googleapis" not in page and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert re.findall(r"(?:https?|wss?)://[^\"' ]+", page) == ["ws://tunnel.example:4321/ws"]
    assert 'data-font-size="20"' in page and "@font-face" in page


async def test_urls_follow_the_request_through_a_proxy(with_token: Served) -> None:
    headers = {"Cookie": f"{COOKIE}={TOKEN}", "X-Forwarded-Host": "lt.example.org", "X-Forwarded-Proto": "https"}
    async with aiohttp.ClientSession() as http, http.get(with_token.base + "/", headers=headers) as response:
        page = await response.text()
    assert 'data-session-websocket-url="wss://lt.example.org/ws"' in page


async def test_without_a_token_only_loopback_names_are_served(loopback: Served) -> None:
    """A site that points its own name at 127.0.0.1 (DNS rebinding) must not reach the app."""
    async with aiohttp.ClientSession() as http:
        for host, status in (("evil.example", 403), (f"evil.example:{loopback.port}", 403),
                             (f"localhost:{loopback.port}", 200), (f"127.0.0.1:{loopback.port}", 200)):
            async with http.get(loopback.base + "/", headers={"Host": host}) as response:
                assert response.status == status, host


async def test_no_directory_listing_and_nothing_outside_static(loopback: Served) -> None:
    async with aiohttp.ClientSession() as http:
        for url in ("/static/", "/static/fonts/", "/static/fonts", "/static/../server.py", "/static/%2e%2e/server.py"):
            async with http.get(loopback.base + url) as response:
                assert response.status in (403, 404), url
                assert "RobotoMono" not in await response.text()
        async with http.get(loopback.base + "/static/fonts/RobotoMono-VariableFont_wght.ttf") as response:
            assert response.status == 200 and len(await response.read()) > 100_000


async def test_a_websocket_from_another_origin_is_refused(with_token: Served) -> None:
    async with aiohttp.ClientSession() as http:
        for origin in (f"http://127.0.0.1:{with_token.port + 1}", "http://evil.example", None):
            # Even with the cookie: a page on another port of this host has it (cookies ignore ports).
            headers = {"Cookie": f"{COOKIE}={TOKEN}", **({"Origin": origin} if origin else {})}
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(with_token.base + "/ws", headers=headers)
            assert refused.value.status == 403, origin
    assert with_token.server.refused["origin"] == 3 and not with_token.server.sessions


async def test_sessions_are_capped_and_a_closed_one_leaves_no_process(loopback: Served) -> None:
    origin = {"Origin": loopback.base}
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(loopback.base + "/ws?width=100&height=30", headers=origin)
        await asyncio.wait_for(_read_until(ws, b"Profiles"), 30)  # the app drew its first screen
        (session,) = loopback.server.sessions
        app = psutil.Process(session.pid)
        assert "liminal_tui" in " ".join(app.cmdline()), "the app itself, not a shell"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(loopback.base + "/ws", headers=origin)
        assert refused.value.status == 503
        async with http.get(loopback.base + "/") as page:
            assert page.status == 503 and "--max-sessions" in await page.text()
        await ws.close()
        for _ in range(200):  # the server stops the app once it sees the close
            if not loopback.server.sessions:
                break
            await asyncio.sleep(0.05)
        assert not loopback.server.sessions
        assert session.exit_code == 130  # SIGTERM reached the app (its own handler ran, not a shell's)
        assert not app.is_running() or app.status() == psutil.STATUS_ZOMBIE


async def test_a_tab_closed_at_once_ends_its_app_cleanly(loopback: Served) -> None:
    """The SIGTERM lands while the app is still building its first screen: exit 130, not a traceback."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(loopback.base + "/ws", headers={"Origin": loopback.base})
        assert (await asyncio.wait_for(ws.receive(), 30)).type == aiohttp.WSMsgType.BINARY
        (session,) = loopback.server.sessions
        await ws.close()
        for _ in range(400):
            if not loopback.server.sessions:
                break
            await asyncio.sleep(0.05)
    assert session.exit_code == 130


async def test_quitting_the_app_ends_the_session_and_closes_the_page_connection(loopback: Served) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(loopback.base + "/ws", headers={"Origin": loopback.base})
        await asyncio.wait_for(_read_until(ws, b"Profiles"), 30)
        (session,) = loopback.server.sessions
        await ws.send_json(["stdin", "q"])
        while (message := await asyncio.wait_for(ws.receive(), 30)).type == aiohttp.WSMsgType.BINARY:
            continue
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
        for _ in range(200):
            if not loopback.server.sessions:
                break
            await asyncio.sleep(0.05)
    assert not loopback.server.sessions and session.exit_code == 0


STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
pid = str(child.pid).encode()
sys.stdout.buffer.write(b"__GANGLION__\\n" + b"D" + len(pid).to_bytes(4, "big") + pid)
sys.stdout.flush()
time.sleep(60)
"""
"""An app that ignores SIGTERM, with a child that does too: what the kill after the grace period is for."""


async def test_an_app_that_ignores_sigterm_is_killed_with_its_children_after_the_grace() -> None:
    served = await _serve(WebConfig(port=0, stop_grace=1.0, command=(sys.executable, "-c", STUBBORN)))
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(served.base + "/ws", headers={"Origin": served.base})
            message = await asyncio.wait_for(ws.receive(), 30)
            child = psutil.Process(int(message.data))
            (session,) = served.server.sessions
            await ws.close()
            for _ in range(200):
                if not served.server.sessions:
                    break
                await asyncio.sleep(0.05)
        assert not served.server.sessions
        assert session.exit_code == -signal.SIGKILL
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        await served.runner.cleanup()


async def _read_until(ws: aiohttp.ClientWebSocketResponse, text: bytes) -> None:
    seen = b""
    while text not in seen:
        message = await ws.receive()
        assert message.type == aiohttp.WSMsgType.BINARY, message
        seen += message.data


def test_the_token_is_printed_once_and_never_logged(tmp_path: Path) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "liminal_tui", "--web", "--token", "--port", "0"],
                                  cwd=tmp_path, stdout=stdout, stderr=stderr)
    try:
        for _ in range(300):
            if match := re.search(r"http://127\.0\.0\.1:\d+/\?token=(\S+)", out.read_text()):
                break
            assert server.poll() is None, err.read_text()
            subprocess.run(["sleep", "0.05"])
        assert match, out.read_text()
        token = match.group(1)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        with pytest.raises(urllib.error.HTTPError) as redirect:
            urllib.request.build_opener(NoRedirect).open(match.group(0), timeout=10)
        assert redirect.value.code == 303
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(match.group(0) + "x", timeout=10)
        assert wrong.value.code == 403
    finally:
        os.kill(server.pid, signal.SIGINT)
        assert server.wait(timeout=20) == 0
    printed, logged = out.read_text(), err.read_text()
    assert printed.count(token) == 1
    assert token not in logged and "GET / 303" in logged and "GET / 403" in logged


def test_a_taken_port_or_a_missing_extra_is_a_clear_error(closed_port: int) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run([sys.executable, "-m", "liminal_tui", "--web", "--port", str(port)],
                              capture_output=True, text=True, timeout=30)
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    assert "Traceback" not in busy.stderr
    without = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['textual_serve'] = None\n"
         "from liminal_tui.cli import main; sys.exit(main(['--web', '--port', '%d']))" % closed_port],
        capture_output=True, text=True, timeout=30)
    assert without.returncode == 2 and "pip install 'liminal-tui[web]'" in without.stderr, without.stderr
