"""Sessions as a Locust user expects them: cookies, redirects, failed steps, in every HTTP client.

Each test talks to tests/servers.py on 127.0.0.1 and counts what the server saw.
"""

from __future__ import annotations

import json

import pytest

from liminal_tui.engine.follow import Follower
from liminal_tui.engine.clients import HttpError, make_client
from liminal_tui.metrics.recorder import EndpointRecorder
from liminal_tui.engine.steps import User
from liminal_tui.profile.models import HttpSettings
from runs import make_profile, run_to_end

pytestmark = pytest.mark.timeout(60)

CLIENTS = {"fast": {}, "aiohttp": {"client": "aiohttp"}, "httpx": {"client": "httpx", "http2": True}}
"""Settings that pick each client (httpx with http2 speaks HTTP/1.1 on http://; the h2 client is in test_h2.py)."""
CLIENT_TOML = {"fast": "", "aiohttp": 'client = "aiohttp"', "httpx": "client = \"httpx\"\nhttp2 = true"}


# ---------------------------------------------------------------- cookies, in a run

LOGIN_FLOW = """
[http]
{client}
{extra}

[load]
users = 3
spawn_rate = 1000

[[scenarios]]
name = "session"
[[scenarios.steps]]
type = "http"
path = "/whoami"
name = "before login"
check = {{ status = [200, 401] }}
[[scenarios.steps]]
type = "http"
method = "POST"
path = "/login"
name = "login"
[[scenarios.steps]]
type = "http"
path = "/whoami"
name = "whoami"
"""


@pytest.mark.parametrize("client", list(CLIENTS))
async def test_a_login_cookie_is_sent_by_the_same_user_only(test_server, client):
    body = LOGIN_FLOW.format(client=CLIENT_TOML[client], extra="")
    _, final = await run_to_end(make_profile(test_server.url, body, duration="1s"), tick=0.1)
    before, whoami = final.find("http", "before login"), final.find("http", "whoami")
    assert whoami.total > 3 and whoami.failures == 0  # every fetch after a login carries its cookie
    # each of the 3 users starts with an empty jar: its first look is anonymous, later ones are not
    statuses = dict(before.statuses)
    assert statuses[401] == 3 and statuses.get(200, 0) == before.total - 3
    assert test_server.state.counts["/whoami"] == before.total + whoami.total


@pytest.mark.parametrize("client", ["fast", "aiohttp"])
async def test_cookies_off_keeps_none(test_server, client):
    body = LOGIN_FLOW.format(client=CLIENT_TOML[client], extra="cookies = false")
    _, final = await run_to_end(make_profile(test_server.url, body, duration="0.4s"), tick=0.1)
    whoami = final.find("http", "whoami")
    assert whoami.count == 0 and whoami.failures > 0
    assert {e.error for e in final.errors} == {"HTTP 401"}


# ---------------------------------------------------------------- redirects, client by client

async def _send(client_name, server_url, method, path, headers=None, data=None, body=None, **settings):  # type: ignore[no-untyped-def]
    http = HttpSettings(**CLIENTS[client_name], timeouts={"connect": 1.0, "total": 3.0}, **settings)
    client = make_client(http)
    rec = EndpointRecorder("http", "x", method)
    user = User(1, {})
    try:
        status, _, content, _ = await Follower(client, http).send(
            user, rec, method, server_url + path, headers, None, data, body)
    finally:
        await client.close()
    return status, (json.loads(content) if content.startswith(b"{") else content), rec.redirects


@pytest.mark.parametrize("client", list(CLIENTS))
async def test_redirects_follow_the_rules_of_requests(test_server, client):
    url = test_server.url
    for code, method in ((301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")):
        status, echo, hops = await _send(client, url, "POST", f"/redirect/{code}?to=/echo", body={"a": 1})
        assert (status, echo["method"], hops) == (200, method, 1), code
        assert (json.loads(echo["body"]) if method == "POST" else echo["body"]) == ({"a": 1} if method == "POST" else ""), code
    # 303 turns a PUT into a GET too; 302 keeps it
    assert (await _send(client, url, "PUT", "/redirect/303?to=/echo", data="x"))[1]["method"] == "GET"
    assert (await _send(client, url, "PUT", "/redirect/302?to=/echo", data="x"))[1]["body"] == "x"
    # a relative Location resolves against the URL that answered
    status, echo, _ = await _send(client, url, "GET", "/redirect/302?to=../echo%3Fq%3D1")
    assert (status, echo["path"], echo["query"]) == (200, "/echo", {"q": "1"})
    # Authorization stays on the same host and is dropped for another one (localhost is another host)
    auth = {"Authorization": "Bearer t0ken"}
    _, echo, _ = await _send(client, url, "GET", "/redirect/302?to=/echo", headers=auth)
    assert echo["authorization"] == "Bearer t0ken"
    other = url.replace("127.0.0.1", "localhost") + "/echo"
    _, echo, _ = await _send(client, url, "GET", f"/redirect/302?to={other}", headers=auth)
    assert echo["path"] == "/echo" and echo["authorization"] is None


@pytest.mark.parametrize("client", list(CLIENTS))
async def test_a_redirect_loop_is_too_many_redirects(test_server, client):
    with pytest.raises(HttpError) as info:
        await _send(client, test_server.url, "GET", "/redirect-loop", max_redirects=3)
    assert info.value.name == "too many redirects"
    assert test_server.state.counts["/redirect-loop"] == 4  # the request and 3 redirects, no more


@pytest.mark.parametrize("client", list(CLIENTS))
async def test_a_cookie_set_by_a_redirect_is_sent_on_the_next_hop(test_server, client):
    http = HttpSettings(**CLIENTS[client])
    http_client, user = make_client(http), User(1, {})
    follower, rec = Follower(http_client, http), EndpointRecorder("http", "x", "POST")
    try:
        await follower.send(user, rec, "POST", f"{test_server.url}/login", None, None, None, None)  # sid s1
        status, _, body, _ = await follower.send(user, rec, "POST", f"{test_server.url}/login?to=/whoami",
                                                 None, None, None, None)  # sets s2, then 302 to /whoami
    finally:
        await http_client.close()
    assert (status, json.loads(body)["sid"], rec.redirects) == (200, "s2", 1)


@pytest.mark.parametrize("client", ["fast", "aiohttp"])
async def test_redirects_can_be_left_alone(test_server, client):
    status, _, hops = await _send(client, test_server.url, "GET", "/redirect/302?to=/echo", follow_redirects=False)
    assert (status, hops) == (302, 0) and test_server.state.counts["/echo"] == 0


REDIRECT_RUN = """
[load]
users = 2
spawn_rate = 1000

[[scenarios]]
name = "r"
[[scenarios.steps]]
type = "http"
path = "/redirect/302?to=/redirect/302%3Fto%3D/status/404"
name = "to a missing page"
[[scenarios.steps]]
type = "http"
path = "/ok"
name = "after"
"""


async def test_a_redirected_step_is_one_sample_and_its_checks_see_the_final_response(test_server):
    _, final = await run_to_end(make_profile(test_server.url, REDIRECT_RUN, duration="0.5s"), tick=0.1)
    ep = final.find("http", "to a missing page")
    counts = test_server.state.counts
    # one sample per step, under its own name; both hops counted; the final 404 fails the default check
    assert ep.count == 0 and ep.failures == counts["/status/404"] > 0
    assert ep.redirects == 2 * ep.failures
    assert [(e.name, e.error) for e in final.errors] == [("to a missing page", "HTTP 404")]
    assert [s.name for s in final.total_stats.rows() if s.kind == "http"] == ["after", "to a missing page", "Aggregated"]
    # the failed step ended each iteration: "after" never ran, and says so
    after = final.find("http", "after")
    assert after.total == 0 and after.skipped == ep.failures and counts["/ok"] == 0


async def test_skipped_steps_and_redirects_are_in_every_report(test_server, tmp_path):
    import csv
    import time

    from liminal_tui.headless import format_summary
    from liminal_tui.report import ReportWriter

    run, final = await run_to_end(make_profile(test_server.url, REDIRECT_RUN, duration="0.3s"), tick=0.1)
    skipped = final.find("http", "after").skipped
    writer = ReportWriter(tmp_path, run.profile, target_url=test_server.url, started_at=time.time(),
                          tool_version="t", settings={})
    out = writer.write(final, [])
    rows = {r["Name"]: r for r in csv.DictReader((out / "results_stats.csv").open())}
    assert int(rows["after"]["Skipped Count"]) == skipped > 0 and rows["after"]["Request Count"] == "0"
    assert rows["after"]["Median Response Time"] == "N/A"  # never ran: no time, not 0.00
    summary = json.loads((out / "summary.json").read_text())
    by_name = {e["name"]: e for e in summary["endpoints"]}
    assert by_name["after"]["skipped"] == skipped and by_name["to a missing page"]["redirects"] == 2 * skipped
    html = (out / "report.html").read_text()
    assert ">Skipped</th>" in html and f"<td>{skipped:,}</td>" in html
    text = format_summary(final, [], None, [])
    after_line = next(line for line in text.splitlines() if " after " in line)
    assert after_line.split()[2:5] == ["0", "0", str(skipped)]  # requests, fails, skipped
    assert " - " in after_line  # no latency without a sample


async def test_on_failure_continue_runs_the_next_steps(test_server):
    body = REDIRECT_RUN.replace('name = "r"', 'name = "r"\non_failure = "continue"')
    _, final = await run_to_end(make_profile(test_server.url, body, duration="0.5s"), tick=0.1)
    ep, after = final.find("http", "to a missing page"), final.find("http", "after")
    assert ep.failures > 0 and after.skipped == 0
    assert after.count == test_server.state.counts["/ok"] > 0


async def test_a_step_whose_variable_was_never_extracted_is_skipped(test_server):
    body = """
[load]
users = 1
spawn_rate = 1000

[[scenarios]]
name = "s"
on_failure = "continue"
[[scenarios.steps]]
type = "http"
path = "/status/500"
name = "create"
extract = { id = "json:id" }
[[scenarios.steps]]
type = "http"
path = "/echo?id=${id}"
name = "use"
[[scenarios.steps]]
type = "http"
path = "/ok"
name = "last"
on_failure = "end_iteration"
"""
    _, final = await run_to_end(make_profile(test_server.url, body, duration="0.4s"), tick=0.1)
    create, use, last = (final.find("http", n) for n in ("create", "use", "last"))
    assert create.failures > 0 and use.total == 0 and use.skipped == create.failures
    assert last.count == create.failures  # "continue": the iteration went on past the skipped step
    assert test_server.state.counts["/echo"] == 0


# ---------------------------------------------------------------- values in URLs

ENCODED = """
[http]
{client}

[vars]
v = "a#b&c=d e?f/g%h"
next = "/echo/raw?x=1"

[load]
users = 1
spawn_rate = 1000

[[scenarios]]
name = "u"
[[scenarios.steps]]
type = "http"
path = "/echo/${{v}}?x=${{v}}"
name = "encoded"
check = {{ json_equals = {{ "query.x" = "${{v}}", path = "/echo/${{v}}" }} }}
[[scenarios.steps]]
type = "http"
path = "${{next}}"
name = "a link as it is"
check = {{ json_equals = {{ "query.x" = "1", path = "/echo/raw" }} }}
"""


@pytest.mark.parametrize("client", list(CLIENTS))
async def test_template_values_are_percent_encoded_into_urls(test_server, client):
    """A '#' in a value used to cut the URL there; every reserved character now arrives as written."""
    body = ENCODED.format(client=CLIENT_TOML[client])
    _, final = await run_to_end(make_profile(test_server.url, body, duration="0.3s"), tick=0.1)
    encoded, link = final.find("http", "encoded"), final.find("http", "a link as it is")
    assert not final.errors and encoded.count > 0 and link.count == encoded.count
