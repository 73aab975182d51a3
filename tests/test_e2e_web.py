"""End to end in a real browser: Debian's Chromium, driven by Playwright, against ``liminal-tui --web``.

One server for the module, bound with ``--token`` in a temporary folder holding two profiles: ``quick``
(5 s, run to its summary) and ``long`` (1 min, its tab is closed mid-run). What the app draws is read from
the WebSocket's frames (text with ANSI codes), as the browser received them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

pytest.importorskip("textual_serve", reason="the web extra is not installed (pip install -e '.[test]' installs it)")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (it is in the test extra)")

from liminal_tui.report import FILES  # noqa: E402
from liminal_tui.web.security import is_loopback  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                                  reason="chromium is not installed (.ci/run installs it with apt)")]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                 "--disable-extensions", "--disable-domain-reliability", "--no-pings"]
ANSI = re.compile(r"\x1b(?:\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")


class Server:
    """``liminal-tui --web --token --port 0`` in ``folder``; its output goes to files the tests read.
    HOME is ``folder`` too, so the profile list is the shipped ones then ``profiles/`` (held, long, quick)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.out, self.err = folder / "server.out", folder / "server.err"
        with self.out.open("w") as stdout, self.err.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "liminal_tui", "--web", "--token", "--port", "0", "--max-sessions", "2"],
                cwd=folder, stdout=stdout, stderr=stderr, env={**os.environ, "HOME": str(folder)},
                start_new_session=True)  # its own process group, as a shell gives it: Ctrl-C goes to that group
        deadline = time.monotonic() + 30
        while not (match := re.search(r"(http://127\.0\.0\.1:\d+/)\?token=(\S+)", self.out.read_text())):
            assert self.process.poll() is None and time.monotonic() < deadline, self.err.read_text()
            time.sleep(0.05)
        self.base, self.token = match.group(1), match.group(2)
        self.url = match.group(0)

    def apps(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def stop(self) -> int:
        """Ctrl-C, as a terminal sends it: to the server's whole process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)


class Tab:
    """A page with the app: every frame the browser received, decoded and without ANSI codes."""

    def __init__(self, page: object) -> None:
        self.page = page
        self.text = ""
        self.sockets: list[str] = []
        page.on("websocket", self._socket)

    def _socket(self, ws: object) -> None:
        self.sockets.append(ws.url)
        ws.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            self.text += ANSI.sub("", payload.decode("utf-8", "replace"))

    def wait_for(self, text: str, timeout: float = 45.0, since: int = 0) -> int:
        """Until ``text`` has been drawn after offset ``since``; returns where it was found."""
        deadline = time.monotonic() + timeout
        while (found := self.text.find(text, since)) < 0:
            assert time.monotonic() < deadline, f"{text!r} never drawn; last frames: {self.text[-1500:]!r}"
            self.page.wait_for_timeout(50)  # lets Playwright deliver the next frames
        return found

    def run_profile(self, path: str, *keys: str) -> int:
        """On the Profiles screen: focus the terminal, press ``keys`` to highlight ``path`` (checked in the
        preview), press r, then Enter on the start dialog. Returns where the run's frames start."""
        self.page.wait_for_selector("body.-first-byte", timeout=45_000)
        self.wait_for("Profiles")
        box = self.page.locator("#terminal").bounding_box()
        self.page.mouse.click(box["x"] + box["width"] - 20, box["y"] + box["height"] - 60)  # empty preview space
        mark = len(self.text)
        for key in keys:
            self.page.keyboard.press(key)
        self.wait_for(path, since=mark)
        mark = len(self.text)
        self.page.keyboard.press("r")
        self.wait_for("Start a run of", since=mark)  # the start dialog, prefilled from the profile
        mark = len(self.text)
        self.page.keyboard.press("Enter")
        return mark


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("web")
    (folder / "profiles").mkdir()
    smoke = (ROOT / "profiles" / "smoke.toml").read_text()
    for name, duration in (("quick", "5s"), ("long", "1m"), ("held", "1m")):
        (folder / "profiles" / f"{name}.toml").write_text(
            smoke.replace('name = "smoke"', f'name = "{name}"').replace('duration = "1m"', f'duration = "{duration}"')
            .replace("users = 10", "users = 4").replace("spawn_rate = 1", "spawn_rate = 4"))
    served = Server(folder)
    yield served
    assert served.stop() == 0
    logged = served.err.read_text() + served.out.read_text()
    assert logged.count(served.token) == 1, "the token is printed once at start, and never logged"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: object) -> Iterator[tuple[object, list[str]]]:
    """A fresh browser context; any request to an address other than loopback is refused and recorded."""
    outside: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})

    def guard(route: object) -> None:
        if is_loopback(urlsplit(route.request.url).hostname or ""):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    yield ctx, outside
    ctx.close()
    assert outside == [], "the page asked for something outside this machine"


def test_token_then_pick_run_and_watch_to_the_summary(server: Server, context: tuple[object, list[str]]) -> None:
    ctx, _ = context
    page = ctx.new_page()
    assert page.goto(server.base).status == 403  # no token, no cookie
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    assert page.goto(server.url).status == 200
    assert page.url == server.base, "the token is swapped for a cookie and dropped from the address bar"
    (cookie,) = ctx.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"] == server.token
    tab = Tab(page)
    start = tab.run_profile("profiles/quick.toml", "End")
    tab.wait_for("elapsed", since=start)  # the dashboard, live
    tab.wait_for("POST /api/memories", since=start)
    page.screenshot(path=str(server.folder / "dashboard.png"))
    summary = tab.wait_for("Report", since=start, timeout=40)  # the run ended by itself: the summary
    tab.wait_for("PASS", since=start)
    page.screenshot(path=str(server.folder / "summary.png"))
    (report,) = (server.folder / "reports").glob("quick_*")
    assert report.name in tab.text[summary:] and (report / "report.html").exists()
    assert tab.sockets == [server.base.replace("http", "ws", 1) + f"ws?{tab.sockets[0].split('?')[1]}"]
    assert fonts_loaded(page), "the bundled Roboto Mono is the terminal's font"
    assert not [line for line in console if "Content Security Policy" in line or "Failed to load" in line], console


def fonts_loaded(page: object) -> bool:
    return page.evaluate("document.fonts.check('16px \"Roboto Mono\"') && "
                         "[...document.fonts].some(f => f.family.includes('Roboto Mono') && f.status === 'loaded')")


def test_a_page_from_another_origin_cannot_open_a_session(server: Server, context: tuple[object, list[str]]) -> None:
    """A page on another port of this host has the cookie (cookies ignore ports) but not the origin."""
    ctx, _ = context
    page = ctx.new_page()
    assert ctx.request.get(server.url, max_redirects=0).status == 303  # the cookie, as after a visit
    assert ctx.cookies()
    ws_url = server.base.replace("http", "ws", 1) + "ws"
    script = ("<title>loading</title><script>const ws = new WebSocket(%s); ws.onopen = () => document.title = 'open';"
              "ws.onclose = () => document.title = 'refused';</script>") % json.dumps(ws_url)
    started = server.err.read_text().count("app started")
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    with serve_page(script) as other:
        page.goto(other)
        page.wait_for_function("document.title !== 'loading'")
    assert page.title() == "refused"
    assert any("403" in line for line in console), console
    assert "refused a session from origin 'http://127.0.0.1:" in server.err.read_text()
    assert server.err.read_text().count("app started") == started


@contextmanager
def serve_page(html: str) -> Iterator[str]:
    """``html`` at / on another port of 127.0.0.1: another origin, on this machine."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_closing_the_tab_mid_run_stops_it_and_writes_the_report(server: Server,
                                                               context: tuple[object, list[str]]) -> None:
    ctx, _ = context
    before = {p.pid for p in server.apps()}
    page = ctx.new_page()
    tab = Tab(page)
    page.goto(server.url)
    start = tab.run_profile("profiles/long.toml", "End", "ArrowUp")
    tab.wait_for("POST /api/memories", since=start)  # load is running
    (app,) = [p for p in server.apps() if p.pid not in before]
    family = [app, *app.children(recursive=True)]
    assert len(family) >= 3, "the app, its worker and the demo target"
    page.close()
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert alive == [], "processes of the closed tab left running"
    (report,) = (server.folder / "reports").glob("long_*")
    assert sorted(p.name for p in report.iterdir()) == sorted(FILES)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["stop_reason"] == "interrupted (SIGTERM)"
    assert sum(e["requests"] for e in summary["endpoints"] if e["kind"] == "http") > 0
    assert re.search(r"session \w+ ended: app exit code 130", server.err.read_text())


def test_ctrl_c_on_the_server_stops_open_runs_with_their_reports(server: Server,
                                                                 context: tuple[object, list[str]]) -> None:
    """Last in the module: it stops the server. The apps are in process groups of their own, so the
    terminal's SIGINT reaches only the server, which gives each app the SIGTERM that writes its report."""
    ctx, _ = context
    before = {p.pid for p in server.apps()}
    page = ctx.new_page()
    tab = Tab(page)
    page.goto(server.url)
    start = tab.run_profile("profiles/held.toml", "End", "ArrowUp", "ArrowUp")
    tab.wait_for("POST /api/memories", since=start)
    (app,) = [p for p in server.apps() if p.pid not in before]
    family = [app, *app.children(recursive=True)]
    assert server.stop() == 0
    assert psutil.wait_procs(family, timeout=5)[1] == [], "processes of the session left running"
    (report,) = (server.folder / "reports").glob("held_*")
    assert sorted(p.name for p in report.iterdir()) == sorted(FILES)
    assert json.loads((report / "summary.json").read_text())["stop_reason"] == "interrupted (SIGTERM)"
