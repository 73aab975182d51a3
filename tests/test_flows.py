"""Real HTTP flows, as locustfiles write them, against tests/flow_servers.py on 127.0.0.1 (the WebSocket
and Socket.IO ones are in test_flows_realtime.py).

Each test runs the real engine and compares its counts with what the server saw (and refused).
"""

from __future__ import annotations

import re

import pytest

from flow_servers import UPLOAD_BYTES, USERS, endpoint as _count
from runs import make_profile, run_to_end

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------- 1. setup and teardown once per user

SHOP = """
[load]
users = 3
spawn_rate = 1000

[[scenarios]]
name = "shop"
[[scenarios.setup]]
type = "http"
method = "POST"
path = "/login"
name = "login"
json = {{ username = "user${{user}}", password = "{password}" }}
{policy}
[[scenarios.steps]]
type = "http"
path = "/items"
name = "items"
extract = {{ ids = "json:items[*].id" }}
[[scenarios.steps]]
type = "http"
path = "/items/${{pick:ids}}"
name = "item"
when = "ids exists"
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/cart"
name = "cart"
json = {{ product_id = "${{pick:ids}}", quantity = "${{randint:1:3}}" }}
[[scenarios.teardown]]
type = "http"
method = "POST"
path = "/logout"
name = "logout"
"""


async def test_setup_logs_in_once_per_user_and_teardown_logs_out(flow_server):
    body = SHOP.format(password="pw${user}", policy="")
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="1s"), tick=0.1)
    st = flow_server.state
    assert _count(final, "login").count == 3 == st.counts["login"]  # once per user, not per iteration
    assert dict(st.logins_by) == {"user1": 1, "user2": 1, "user3": 1}
    assert _count(final, "logout").count == 3 == st.counts["logout"] and not st.sessions
    items, item, cart = _count(final, "items"), _count(final, "item"), _count(final, "cart")
    assert items.count > 3 and items.failures == 0
    assert (items.count, item.count, cart.count) == (st.counts["items"], st.counts["item"], st.counts["cart"])
    assert not st.refused, st.refused  # quantities went as numbers, ids were picked from the list
    assert set(st.quantities) <= {1, 2, 3} and st.quantities


async def test_a_failed_setup_ends_the_user_without_a_login_storm(flow_server):
    body = SHOP.format(password="wrong", policy="")
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="0.6s"), tick=0.1)
    login = _count(final, "login")
    assert login.failures == 3 == flow_server.state.refused["login"]  # one attempt each, then the user ends
    assert _count(final, "items").total == 0 and flow_server.state.counts["items"] == 0
    assert _count(final, "logout").total == 0  # teardown only after a setup that worked


async def test_a_failed_setup_retries_with_backoff(flow_server):
    policy = 'on_setup_failure = { action = "retry", times = 2, backoff = "0.05s" }'
    # TOML: the policy belongs to the scenario, so it goes before the first [[scenarios.setup]]
    body = SHOP.format(password="wrong", policy="").replace('name = "shop"\n', f'name = "shop"\n{policy}\n')
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="1s"), tick=0.1)
    assert _count(final, "login").failures == 9 == flow_server.state.refused["login"]  # 3 users x 3 attempts
    assert flow_server.state.counts["items"] == 0


# ---------------------------------------------------------------- 2. CAS: hidden form token, ticket in a redirect

CAS = """
[http]
follow_redirects = false
{client}

[load]
users = 2
spawn_rate = 1000

[[scenarios]]
name = "sso"
[[scenarios.steps]]
type = "http"
path = "/cas/login"
name = "login form"
extract = {{ lt = 'regex:name="lt" value="([^"]+)"' }}
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/cas/login"
name = "login"
form = {{ username = "user${{user}}", password = "pw${{user}}", lt = "${{lt}}" }}
check = {{ status = 302 }}
extract = {{ ticket = "header:Location|regex:ticket=([^&]+)" }}
[[scenarios.steps]]
type = "http"
path = "/cas/validate"
query = {{ ticket = "${{ticket}}" }}
name = "validate"
check = {{ body_contains = "yes" }}
"""


CLIENT_TOML = {"fast": "", "aiohttp": 'client = "aiohttp"', "httpx": "client = \"httpx\"\nhttp2 = true"}


@pytest.mark.parametrize("client", list(CLIENT_TOML))
async def test_cas_login_with_hidden_token_and_ticket_from_location(flow_server, client):
    body = CAS.format(client=CLIENT_TOML[client])
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="2s"), tick=0.1)  # 0.8 s made none on a box slowed 2.4x
    st = flow_server.state
    assert not st.refused, st.refused
    form, login, validate = _count(final, "login form"), _count(final, "login"), _count(final, "validate")
    assert validate.count > 2 and validate.failures == login.failures == 0
    assert (form.count, login.count, validate.count) == (st.counts["cas form"], st.counts["cas login"],
                                                         st.counts["cas validate"])


# ---------------------------------------------------------------- 3. CSRF cookie read into a header

NOTES = """
[load]
users = 2
spawn_rate = 1000

[[scenarios]]
name = "notes"
[[scenarios.setup]]
type = "http"
path = "/csrf"
name = "csrf"
extract = { csrf = "cookie:csrftoken" }
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/notes"
name = "save note"
headers = { X-CSRFToken = "${csrf}" }
json = { text = "note ${iteration}" }
"""


async def test_csrf_cookie_is_read_into_a_variable(flow_server):
    _, final = await run_to_end(make_profile(flow_server.url, NOTES, duration="0.8s"), tick=0.1)
    st = flow_server.state
    assert not st.refused, st.refused
    assert _count(final, "csrf").count == 2 == st.counts["csrf"]
    notes = _count(final, "save note")
    assert notes.count == st.counts["notes"] > 2 and notes.failures == 0


# ---------------------------------------------------------------- 4. a multipart upload the server checks

UPLOAD = """
[http]
{client}

[load]
users = 2
spawn_rate = 1000

[[scenarios]]
name = "avatar"
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/upload"
name = "upload"
multipart = [
  {{ name = "title", value = "pic of user ${{user}}" }},
  {{ name = "avatar", file = "avatar.png", content_type = "image/png" }},
]
check = {{ json_equals = {{ stored = {size} }} }}
"""


@pytest.mark.parametrize("client", list(CLIENT_TOML))
async def test_multipart_upload_sends_the_file(flow_server, tmp_path, client):
    from liminal_tui.profile import load_profile

    (tmp_path / "avatar.png").write_bytes(UPLOAD_BYTES)
    path = tmp_path / "upload.toml"
    path.write_text(f'name = "up"\ntarget = "{flow_server.url}"\nduration = "0.8s"\n'
                    + UPLOAD.format(client=CLIENT_TOML[client], size=len(UPLOAD_BYTES)))
    _, final = await run_to_end(load_profile(path), tick=0.1)
    st = flow_server.state
    assert not st.refused, st.refused
    upload = _count(final, "upload")
    assert upload.count == st.counts["upload"] > 2 and upload.failures == 0


# ---------------------------------------------------------------- 5. CSV of credentials, token login (CRUD API)

TOKENS = """
name = "crud"
target = "{target}"
duration = "0.8s"

[load]
users = 4
spawn_rate = 1000

[[data]]
name = "creds"
file = "users.csv"
pick = "per_user"

[[scenarios]]
name = "crud"
[[scenarios.setup]]
type = "http"
method = "POST"
path = "/token"
name = "token"
json = {{ username = "${{creds.username}}", password = "${{creds.password}}" }}
extract = {{ token = "json:token" }}
[[scenarios.steps]]
type = "http"
path = "/me"
name = "me"
headers = {{ Authorization = "Bearer ${{token}}" }}
check = {{ json_equals = {{ username = "${{creds.username}}" }} }}
"""


async def test_csv_credentials_one_row_per_user(flow_server, tmp_path):
    from liminal_tui.profile import load_profile

    (tmp_path / "users.csv").write_text("username,password\n" + "".join(f"{u},{p}\n" for u, p in USERS.items()))
    path = tmp_path / "crud.toml"
    path.write_text(TOKENS.format(target=flow_server.url))
    _, final = await run_to_end(load_profile(path), tick=0.1)
    st = flow_server.state
    assert not st.refused, st.refused
    assert _count(final, "token").count == 4 == st.counts["token"]
    assert dict(st.logins_by) == {f"user{i}": 1 for i in range(1, 5)}  # each user its own row
    me = _count(final, "me")
    assert me.count == st.counts["me"] > 4 and me.failures == 0


async def test_data_rows_run_out_with_stop_user(flow_server, tmp_path):
    from liminal_tui.profile import load_profile

    (tmp_path / "users.jsonl").write_text('{"username": "user1", "password": "pw1"}\n'
                                          '{"username": "user2", "password": "pw2"}\n')
    path = tmp_path / "crud.toml"
    text = TOKENS.format(target=flow_server.url).replace('"users.csv"', '"users.jsonl"')
    path.write_text(text.replace('pick = "per_user"', 'pick = "per_user"\non_end = "stop_user"'))
    _, final = await run_to_end(load_profile(path), tick=0.1)
    assert _count(final, "token").count == 2 == flow_server.state.counts["token"]  # 4 users, 2 rows
    assert dict(flow_server.state.logins_by) == {"user1": 1, "user2": 1}


# ---------------------------------------------------------------- 6. a sequential purchase flow: set, when, retry, pause

PURCHASE = """
[load]
users = 2
spawn_rate = 1000

[user_vars]
shopper = "user${user}"

[[scenarios]]
name = "purchase"
[[scenarios.setup]]
type = "http"
method = "POST"
path = "/login"
name = "login"
json = { username = "${shopper}", password = "pw${user}" }
[[scenarios.steps]]
type = "set"
vars = { product = "${choice:11|12|13}", qty = "${randint:1:3}" }
[[scenarios.steps]]
type = "http"
path = "/items/${product}"
name = "view"
[[scenarios.steps]]
type = "pause"
min = "0.01s"
max = "0.02s"
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/cart"
name = "add"
json = { product_id = "${product}", quantity = "${qty}" }
[[scenarios.steps]]
type = "http"
path = "/flaky?u=${user}"
name = "flaky"
retry = { times = 1, pause = "0.01s" }
[[scenarios.steps]]
type = "http"
path = "/items/99"
name = "never"
when = "status != 200 or product == 'none'"
"""


async def test_purchase_flow_with_set_pause_retry_and_when(flow_server):
    _, final = await run_to_end(make_profile(flow_server.url, PURCHASE, duration="1s"), tick=0.1)
    st = flow_server.state
    view, add, flaky, never = (_count(final, n) for n in ("view", "add", "flaky", "never"))
    assert view.count == add.count == st.counts["item"] == st.counts["cart"] > 2
    assert add.failures == 0 and st.refused["cart"] == 0  # product set once, sent as a number in /cart
    # every other /flaky fails; the retry makes each iteration pass on its second attempt
    assert flaky.count == st.counts["flaky"] and flaky.failures == st.refused["flaky"]
    assert 0 <= flaky.failures - flaky.count <= 2  # a user stopped in the retry pause does not retry
    # when was false after each 200: skipped; an iteration whose flaky failed for good skipped it too
    assert never.total == 0 and never.skipped == flaky.failures
    assert dict(st.logins_by) == {"user1": 1, "user2": 1}  # [user_vars] rendered for each user


# ---------------------------------------------------------------- absolute URLs, a second host, step cookies

SECOND_HOST = """
[vars]
other = "{other}"

[load]
users = 1
spawn_rate = 1000

[[scenarios]]
name = "two hosts"
[[scenarios.steps]]
type = "http"
path = "${{other}}/echo/abs"
name = "second host"
cookies = {{ theme = "dark", who = "u${{user}}" }}
check = {{ json_equals = {{ path = "/echo/abs" }}, body_contains = "theme=dark; who=u1" }}
[[scenarios.steps]]
type = "http"
path = "${{other}}/echo/again"
name = "jar keeps it"
check = {{ body_contains = "theme=dark" }}
[[scenarios.steps]]
type = "http"
path = "/csrf"
name = "first host"
"""


async def test_absolute_url_from_a_variable_and_step_cookies(flow_server, test_server):
    body = SECOND_HOST.format(other=test_server.url)
    _, final = await run_to_end(make_profile(flow_server.url, body, duration="0.5s"), tick=0.1)
    second, again, first = (_count(final, n) for n in ("second host", "jar keeps it", "first host"))
    assert second.failures == again.failures == first.failures == 0, final.errors
    assert second.count == test_server.state.counts["/echo/abs"] > 0  # counted under the step's name
    assert again.count == test_server.state.counts["/echo/again"]
    assert first.count == flow_server.state.counts["csrf"]


# ---------------------------------------------------------------- the CLI: data relative to the profile, never in reports

async def test_cli_run_reads_data_beside_the_profile_and_keeps_it_out_of_reports(flow_server, tmp_path):
    import asyncio
    import os
    import sys

    folder = tmp_path / "profiles"
    folder.mkdir()
    rows = {"user5": "pw5", "user6": "pw6"}
    (folder / "creds.csv").write_text("username,password,note\n"
                                      + "".join(f"{u},{p},ROW-NOTE-{u}\n" for u, p in rows.items()))
    (folder / "crud.toml").write_text(TOKENS.format(target=flow_server.url).replace("users = 4", "users = 2")
                                      .replace('"users.csv"', '"creds.csv"'))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liminal_tui", "--run", str(folder / "crud.toml"), "--report-dir", str(tmp_path / "r"),
        "-q", cwd=elsewhere, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert dict(flow_server.state.logins_by) == {"user5": 1, "user6": 1}
    report = next((tmp_path / "r").iterdir())
    texts = [out.decode(), err.decode()] + [f.read_text(errors="replace") for f in report.iterdir() if f.is_file()]
    for text in texts:
        # summary.json's encoded HDR histograms are base64, where "pw5" can occur by chance: not a row
        text = re.sub(r'"latency_hdr": "[A-Za-z0-9+/=]*"', '"latency_hdr": ""', text)
        assert "ROW-NOTE" not in text and "pw5" not in text and "pw6" not in text
