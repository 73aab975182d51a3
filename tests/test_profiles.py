"""Profiles: every shipped one validates; broken ones get one clear line per problem, never a traceback.

The property-based tests throw random and mutated TOML at ``parse_profile``: the only acceptable
outcomes are a Profile or a ProfileError whose message starts with the source name.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liminal_tui.profile import Profile, ProfileError, load_profile, parse_profile, shipped_profiles

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
REPO_PROFILES = sorted((ROOT / "profiles").glob("*.toml"))
SMOKE = (ROOT / "profiles" / "smoke.toml").read_text(encoding="utf-8")


# ---------------------------------------------------------------- shipped profiles

@pytest.mark.parametrize("path", REPO_PROFILES + sorted(shipped_profiles().values()), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_profile_validates(path: Path):
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.duration and profile.duration > 0
    assert profile.scenarios and all(s.steps for s in profile.scenarios)
    assert profile.thresholds.parsed()  # every shipped profile judges something
    names = profile.metric_names()
    for rule in profile.thresholds.parsed():
        assert rule.name is None or rule.name in names[rule.kind]


def test_repo_and_package_ship_the_same_profiles():
    assert {p.name: p.read_text() for p in REPO_PROFILES} == {
        p.name: p.read_text() for p in shipped_profiles().values()
    }


# ---------------------------------------------------------------- broken profiles

BASE = """\
name = "broken"
target = "http://127.0.0.1:8000"
duration = "10s"

[load]
users = 5
spawn_rate = 5

[[scenarios]]
name = "s"

[[scenarios.steps]]
type = "http"
method = "POST"
path = "/api/memories"
json = { content = "x" }
extract = { memory_id = "json:id" }

[[scenarios.steps]]
type = "http"
path = "/api/memories/${memory_id}"
name = "GET one"
"""


def _edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def _add(text: str) -> str:
    return BASE + "\n" + text + "\n"


BROKEN = {
    # wrong types
    "users not a number": (_edit("users = 5", 'users = "ten"'), ["load.users: ", "valid integer", "(line 6)"]),
    "users fractional": (_edit("users = 5", "users = 2.5"), ["load.users: ", "integer", "(line 6)"]),
    "load not a table": (_edit("[load]\nusers = 5\nspawn_rate = 5\n", "load = 5\n"), ["load: ", "(line 5)"]),
    "step json and body": (_edit('json = { content = "x" }', 'json = { content = "x" }\nbody = "y"'),
                           ["scenarios.0.steps.0: give either json or body, not both"]),
    "check status not a number": (_edit('name = "GET one"', 'name = "GET one"\ncheck = { status = "ok" }'),
                                  ["scenarios.0.steps.1.check.status: ", "valid integer"]),
    "users a boolean": (_edit("users = 5", "users = true"), ["load.users: ", "valid integer"]),
    "spawn rate a string": (_edit("spawn_rate = 5", 'spawn_rate = "5"'), ["load.spawn_rate: ", "valid number"]),
    "think_time min above max": (_edit("spawn_rate = 5", 'spawn_rate = 5\nthink_time = { min = "2s", max = "1s" }'),
                                 ["load.think_time: ", "think_time.max must not be smaller than think_time.min"]),
    "target not a URL": (_edit('target = "http://127.0.0.1:8000"', 'target = "localhost:8000"'),
                         ["target: 'localhost:8000' is not a base URL", "(line 2)"]),
    "method unknown": (_edit('method = "POST"', 'method = "FETCH"'), ["scenarios.0.steps.0.method: unknown HTTP method 'FETCH'"]),
    # users, rates
    "users zero": (_edit("users = 5", "users = 0"), ["load.users: ", "greater than or equal to 1", "(line 6)"]),
    "users negative": (_edit("users = 5", "users = -3"), ["load.users: ", "greater than or equal to 1"]),
    "spawn rate zero": (_edit("spawn_rate = 5", "spawn_rate = 0"), ["load.spawn_rate: ", "greater than 0", "(line 7)"]),
    "rate infinite": (_edit("users = 5", 'model = "open"\nrate = inf'), ["load.rate: "]),
    "stage target huge": (_edit("spawn_rate = 5", 'spawn_rate = 5\nstages = [{ duration = "5s", target = 1e12 }]'),
                          ["load.stages.0.target: "]),
    # durations
    "duration 10x": (_edit('duration = "10s"', 'duration = "10x"'), ["duration: '10x' is not a duration", "(line 3)"]),
    "duration zero": (_edit('duration = "10s"', "duration = 0"), ["duration: ", "above zero", "(line 3)"]),
    "duration negative": (_edit('duration = "10s"', "duration = -5"), ["duration: ", "must not be negative"]),
    "timeout not a duration": (_add('[http.timeouts]\nread = "fast"'), ["http.timeouts.read: 'fast' is not a duration"]),
    "stages longer than duration": (_edit("spawn_rate = 5", 'stages = [{ duration = "8s", target = 5 }, { duration = "5s", target = 1 }]'),
                                    ["load.stages", "13s", "longer than duration (10s)"]),
    # unknown keys
    "unknown top-level key": (_edit('duration = "10s"', 'duration = "10s"\nduraton = "5s"'),
                              ["duraton: unknown key 'duraton'; did you mean 'duration'?", "(line 4)"]),
    "unknown load key": (_edit("users = 5", "user = 5"), ["load.user: unknown key 'user'; did you mean 'users'?", "(line 6)"]),
    "unknown step key": (_edit('method = "POST"', 'methd = "POST"'), ["scenarios.0.steps.0.methd: unknown key 'methd'; did you mean 'method'?"]),
    "unknown key without a near match": (_edit("users = 5", "users = 5\nzebra = 1"), ["load.zebra: unknown key 'zebra' (known keys: ", "users"]),
    # steps
    "unknown step type": (_edit('type = "http"\npath = "/api/memories/', 'type = "grpc"\npath = "/api/memories/'),
                          ["scenarios.0.steps.1: unknown step type; use http, ws_connect"]),
    "step without type": (_edit('type = "http"\npath = "/api/memories/', 'path = "/api/memories/'),
                          ["scenarios.0.steps.1: a step needs a 'type'"]),
    "ws_send before ws_connect": (_add('[[scenarios.steps]]\ntype = "ws_send"\ntext = "hi"'),
                                  ["scenarios.0: ", "steps.2: ws_send needs a ws_connect step before it"]),
    # thresholds
    "threshold on unknown endpoint": (_add('[thresholds]\n"http:GET on" = ["p99 < 1s"]'),
                                      ["thresholds.\"http:GET on\": no step produces a http metric named 'GET on'; did you mean 'GET one'?"]),
    "threshold on unknown kind": (_add('[thresholds]\nhtp = ["p99 < 1s"]'),
                                  ["thresholds.htp: 'htp' is not a metric kind", "did you mean 'http'?"]),
    "threshold unknown stat": (_add('[thresholds]\nhttp = ["p100 < 1s"]'), ["thresholds.http: 'p100 < 1s': unknown statistic 'p100'"]),
    "threshold stat with hint": (_add('[thresholds]\nhttp = ["eror_rate < 1%"]'), ["unknown statistic 'eror_rate'; did you mean 'error_rate'?"]),
    "threshold bad value": (_add('[thresholds]\nhttp = ["p99 < fast"]'), ["thresholds.http: 'p99 < fast': p99 needs a duration"]),
    "threshold not a rule": (_add('[thresholds]\nhttp = ["fast please"]'), ["thresholds.http: 'fast please' is not a rule"]),
    # templates
    "template unknown variable": (_edit("${memory_id}", "${memory}"),
                                  ["scenarios.0.steps.1: template variable(s) memory are not set by an earlier step's extract, a set step, [vars], [user_vars] or [[data]]"]),
    "template unknown function": (_edit("${memory_id}", "${rand:1:5}"), ["unknown template function 'rand'"]),
    "template unclosed": (_edit("${memory_id}", "${memory_id"), ["unclosed '${'"]),
    # sessions, failures, WebSocket limits
    "on_failure unknown": (_edit('name = "s"', 'name = "s"\non_failure = "retry"'),
                           ["scenarios.0.on_failure: ", "'end_iteration' or 'continue'"]),
    "step on_failure unknown": (_edit('name = "GET one"', 'name = "GET one"\non_failure = "stop"'),
                                ["scenarios.0.steps.1.on_failure: ", "'end_iteration' or 'continue'"]),
    "max_redirects negative": (_add("[http]\nmax_redirects = -1"), ["http.max_redirects: ", "greater than or equal to 0"]),
    "cookies not a boolean": (_add('[http]\ncookies = "yes"'), ["http.cookies: ", "valid boolean"]),
    "follow_redirects misspelt": (_add("[http]\nfollow_redirect = true"),
                                  ["http.follow_redirect: unknown key 'follow_redirect'; did you mean 'follow_redirects'?"]),
    "max_message_size zero": (_add('[[scenarios.steps]]\ntype = "ws_connect"\nmax_message_size = 0'),
                              ["max_message_size: ", "greater than or equal to 1"]),
    # syntax
    "TOML syntax error": (_edit("[load]", "[load"), ["TOML syntax error", "line 5"]),
    "TOML duplicate key": (_edit("users = 5", "users = 5\nusers = 6"), ["TOML syntax error", "line 7"]),
    "TOML nested too deeply": (_edit('json = { content = "x" }', "json = " + "[" * 3000 + "]" * 3000), ["nested too deeply"]),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_profile_gets_one_clear_line(name: str, tmp_path: Path):
    text, expected = BROKEN[name]
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and "Traceback" not in message, message
    assert len(info.value.problems) == 1, message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_session_and_failure_keys_validate():
    text = _add('[http]\ncookies = false\nfollow_redirects = true\nmax_redirects = 3\n'
                '[[scenarios.steps]]\ntype = "ws_connect"\nmax_message_size = 1048576\non_failure = "continue"')
    text = text.replace('name = "s"', 'name = "s"\non_failure = "continue"')
    profile = parse_profile(text, source="ok.toml")
    assert (profile.http.cookies, profile.http.follow_redirects, profile.http.max_redirects) == (False, True, 3)
    assert profile.scenarios[0].on_failure == "continue" and profile.scenarios[0].steps[2].max_message_size == 1 << 20
    defaults = parse_profile(BASE, source="defaults.toml")
    assert (defaults.http.cookies, defaults.http.follow_redirects, defaults.http.max_redirects) == (True, True, 10)
    assert defaults.scenarios[0].on_failure == "end_iteration" and defaults.scenarios[0].steps[0].on_failure is None


def test_several_problems_get_one_line_each():
    text = _edit("users = 5", 'users = 0\nspawn_rate = "fast"').replace("spawn_rate = 5\n", "")
    text = text.replace('duration = "10s"', 'duration = "10x"')
    with pytest.raises(ProfileError) as info:
        parse_profile(text, source="two.toml")
    lines = str(info.value).splitlines()
    assert lines[0] == "two.toml: 3 problems"
    assert [line.split(":")[0] for line in lines[1:]] == ["  - duration", "  - load.users", "  - load.spawn_rate"]


def test_missing_file_is_a_profile_error(tmp_path: Path):
    with pytest.raises(ProfileError, match=r"nope\.toml: no such file"):
        load_profile(tmp_path / "nope.toml")


# ---------------------------------------------------------------- property-based

def _outcome(text: str) -> Profile | None:
    """Parse ``text``; anything but a Profile or a well-formed ProfileError fails the test."""
    try:
        profile = parse_profile(text, source="fuzz.toml")
    except ProfileError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        assert exc.problems and all(isinstance(p, str) and p.strip() for p in exc.problems)
        assert all("\n" not in p and "\r" not in p for p in exc.problems), exc.problems  # one line each
        return None
    assert isinstance(profile, Profile)
    assert profile.duration is not None and 0 < profile.duration < math.inf
    assert profile.scenarios and any(s.weight > 0 for s in profile.scenarios)
    profile.thresholds.parsed()
    return profile


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_DURATIONS = st.sampled_from(["10s", "1m", "250ms", "1h30m", "10x", "", "-1s", "0", "1.5s", "s", "10 s"])
_TEMPLATES = st.sampled_from(["${seq}", "${uuid}", "${memory_id}", "${nope}", "${randint:1:9}", "${randint:9:1}",
                              "${choice:a|b}", "${env:HOME}", "${env:NOT_SET_ANYWHERE}", "${", "${}", "/x/${user}"])
_SCALARS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), st.booleans(), st.text(max_size=20),
    _DURATIONS, _TEMPLATES,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def _key_paths(doc, prefix=()):  # type: ignore[no-untyped-def]
    """Every (path) to a value in a TOML document, tables and arrays included."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from _key_paths(value, prefix + (key,))


SMOKE_DOC = tomllib.loads(SMOKE)
SMOKE_PATHS = list(_key_paths(SMOKE_DOC))


def _replace(doc, path, value):  # type: ignore[no-untyped-def]
    import copy

    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@FUZZ
@given(path=st.sampled_from(SMOKE_PATHS), value=_VALUES)
def test_fuzz_random_value_for_a_smoke_key(path, value):
    try:
        text = tomli_w.dumps(_replace(SMOKE_DOC, path, value))
    except (TypeError, ValueError):  # a value TOML cannot hold (e.g. None-like); nothing to test
        return
    _outcome(text)


@FUZZ
@given(extra=st.dictionaries(st.sampled_from(["load", "http", "thresholds", "vars", "name", "target", "duration",
                                             "scenarios", "description", "lod", "treshold"]), _VALUES, max_size=3))
def test_fuzz_random_top_level_tables(extra):
    doc = dict(SMOKE_DOC)
    doc.update(extra)
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return
    _outcome(text)


_MUTATION = st.tuples(
    st.sampled_from(["delete", "duplicate", "replace", "insert"]),
    st.integers(min_value=0, max_value=len(SMOKE)),
    st.integers(min_value=1, max_value=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8)
    | st.sampled_from(['"', "[", "]", "=", "\n", "{", "}", "${", "#", "'", "\\", ",", "0", "-", "."]),
)


def _mutate(text: str, mutations) -> str:  # type: ignore[no-untyped-def]
    for kind, at, size, chars in mutations:
        at = min(at, len(text))
        if kind == "delete":
            text = text[:at] + text[at + size:]
        elif kind == "duplicate":
            text = text[:at] + text[at:at + size] + text[at:]
        elif kind == "replace":
            text = text[:at] + chars + text[at + len(chars):]
        else:
            text = text[:at] + chars + text[at:]
    return text


@FUZZ
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=4))
def test_fuzz_mutated_smoke_profile(mutations):
    _outcome(_mutate(SMOKE, mutations))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_fuzz_random_text(text):
    _outcome(text)


def test_fuzz_helpers_leave_smoke_valid():
    assert _outcome(SMOKE) is not None
    assert _outcome(tomli_w.dumps(SMOKE_DOC)) is not None
