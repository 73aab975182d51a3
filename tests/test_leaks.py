"""Nothing leaks, nothing injects: the real CLI against tests/servers.py, every output read back.

A secret from the environment goes into every place a template can go; the target echoes it back (in a
reason phrase, a WebSocket close reason) and sends control characters; then stdout, stderr, every file of
the report and the Prometheus text are searched for the secret in every spelling and for any control
character.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import aiohttp
import pytest

from liminal_tui.report import FILES

pytestmark = pytest.mark.timeout(90)

SECRET = "s3cr3tTok#en&=+ x/y"
FORMS = {SECRET, quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET), json.dumps(SECRET)[1:-1], "s3cr3t"}
"""Every spelling of the secret an output could carry; "s3cr3t" survives any encoding."""
EVIL = "\x1b]0;PWNED\x07\x1b[2J\x9b31m"
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters no output may hold (tab and newlines are the files' own layout)."""

PROFILE = """
name = "leaks"
target = "{target}"
duration = "1.5s"

[http]
headers = {{ Authorization = "Bearer ${{env:LEAK_SECRET}}", X-Plain = "${{env:LEAK_SECRET}}" }}
[http.timeouts]
total = "2s"

[vars]
token = "${{env:LEAK_SECRET}}"
evil = "{evil}"

[load]
users = 2
spawn_rate = 100

[[scenarios]]
name = "everything"
on_failure = "continue"
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/echo/${{env:LEAK_SECRET}}?p=${{env:LEAK_SECRET}}"
name = "path"
query = {{ q = "${{env:LEAK_SECRET}}" }}
headers = {{ X-Thing = "${{env:LEAK_SECRET}}", Cookie = "c=${{env:LEAK_SECRET}}" }}
json = {{ v = "${{env:LEAK_SECRET}}", w = "${{token}}" }}
check = {{ json_equals = {{ body = "${{env:LEAK_SECRET}}" }} }}
[[scenarios.steps]]
type = "http"
method = "PUT"
path = "/echo"
name = "body"
body = "${{token}}"
check = {{ body_contains = "nope ${{env:LEAK_SECRET}}" }}
[[scenarios.steps]]
type = "http"
path = "/echo"
name = "json"
check = {{ json_equals = {{ method = "${{token}}" }}, json_has = ["${{env:LEAK_SECRET}}"] }}
[[scenarios.steps]]
type = "http"
path = "{reason}/503?text=${{env:LEAK_SECRET}}"
name = "reason echoes the secret"
[[scenarios.steps]]
type = "http"
path = "{reason}/502?text=${{evil}}"
name = "evil reason"
[[scenarios.steps]]
type = "ws_connect"
path = "/ws/close/1011?reason=${{env:LEAK_SECRET}}${{evil}}"
name = "ws closes"
headers = {{ X-Thing = "${{env:LEAK_SECRET}}" }}
reconnect = false
[[scenarios.steps]]
type = "ws_connect"
path = "/ws/echo?t=${{env:LEAK_SECRET}}"
name = "ws echo"
[[scenarios.steps]]
type = "ws_send"
text = "${{env:LEAK_SECRET}}"
[[scenarios.steps]]
type = "ws_wait"
name = "ws wait"
match = {{ x = "${{env:LEAK_SECRET}}" }}
contains = "${{token}}"
timeout = "0.1s"
[[scenarios.steps]]
type = "ws_close"
"""


def _toml_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if CONTROL.match(c) else c for c in text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liminal_tui", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})}, cwd=cwd)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


async def _scrape(port: int, texts: list[str], done: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        while not done.is_set():
            try:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    texts.append(await resp.text())
            except aiohttp.ClientError:
                pass  # not serving yet, or no longer
            await asyncio.sleep(0.2)


async def test_no_secret_and_no_control_character_reaches_any_output(test_server, reason_server, tmp_path):
    profile = tmp_path / "leaks.toml"
    profile.write_text(PROFILE.format(target=test_server.url, reason=reason_server.url, evil=_toml_escaped(EVIL)))
    port, texts, done = _free_port(), [], asyncio.Event()
    scraper = asyncio.ensure_future(_scrape(port, texts, done))
    code, out, err = await _cli("--run", str(profile), "--report-dir", str(tmp_path / "reports"),
                                "--prometheus", f"127.0.0.1:{port}", env={"LEAK_SECRET": SECRET, "TERM": "xterm"})
    done.set()
    await scraper
    assert code == 0, err
    assert "Traceback" not in err
    # the run did meet the secret: the server saw it, and failures came back carrying it
    assert any("reason echoes the secret" in line and "HTTP 503" in line for line in out.splitlines())
    assert "ws close 1011" in out and "]0;PWNED" in out  # the evil reason, defanged
    assert texts and any("liminal_requests_total" in t for t in texts)
    report = next((tmp_path / "reports").iterdir())
    outputs = {"stdout": out, "stderr": err, **{f.name: f.read_text() for f in report.iterdir()},
               **{f"prometheus {i}": t for i, t in enumerate(texts)}}
    assert len(outputs) == 2 + len(FILES) + len(texts)  # every report file is searched
    for where, text in outputs.items():
        for form in FORMS:
            assert form not in text, f"{form!r} in {where}"
        if where == "profile.toml":
            continue  # the user's own profile, written back faithfully (TOML escapes its control characters)
        assert not CONTROL.search(text), f"control character in {where}: {CONTROL.search(text).group()!r}"
        assert "\\u001b" not in text and "\\x1b" not in text, where  # not even escaped
    summary = json.loads((report / "summary.json").read_text())
    messages = {g["message"] for g in summary["failures"]["groups"]}
    assert "***" in messages  # the echoed reason phrase, redacted
    # the reason phrase's escapes, defanged (its UTF-8 bytes read as latin-1, as HTTP says: C2 9B -> "Â")
    assert any(m.startswith("]0;PWNED[2J") and m.endswith("31m") for m in messages)
    assert any(g["error"] == "check failed" and "***" in g["message"] for g in summary["failures"]["groups"])


async def test_a_300_character_profile_name_never_gives_a_traceback(test_server, tmp_path):
    name = "n" * 300
    profile = tmp_path / "long.toml"
    profile.write_text(f'name = "{name}"\ntarget = "{test_server.url}"\nduration = "0.3s"\n'
                       '[[scenarios]]\nname = "s"\n[[scenarios.steps]]\ntype = "http"\npath = "/ok"\n')
    folders = []
    for _ in range(2):  # the second run finds the first one's folder
        code, out, err = await _cli("--run", str(profile), "--report-dir", str(tmp_path / "reports"), "-q")
        assert code == 0 and "Traceback" not in err, err
        folders = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert len(folders) == 2 and all(len(f) < 120 and f.startswith("n" * 80 + "_") for f in folders)


@pytest.mark.parametrize("prefix", ["", "u:", "ab:", "user:"])  # every byte alignment of the secret
def test_a_secret_inside_base64_is_redacted(prefix):
    """An echoed ``Authorization: Basic base64(user:secret)`` header must not carry the secret out."""
    import base64

    from liminal_tui.metrics.clean import Cleaner

    clean = Cleaner([SECRET])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode((prefix + SECRET).encode()).decode()
        message = f"401: bad credentials Basic {encoded}"
        cleaned = clean(message)
        assert cleaned != message and "***" in cleaned
        # what is left is the prefix's characters and at most two at each end of the secret, which
        # share bits with its neighbours: nothing that spells a byte of its middle
        leftover = cleaned.rsplit(" ", 1)[-1].replace("***", "")
        assert len(leftover) <= -(-len(prefix) * 4 // 3) + 4, (encoded, cleaned)
    innocent = base64.b64encode(b"nothing secret here at all").decode()
    assert clean(innocent) == innocent
