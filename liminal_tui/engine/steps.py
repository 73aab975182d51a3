"""Profile steps compiled for the hot path: templates pre-parsed, recorders bound, checks prepared.
The HTTP step is here, the WebSocket steps in :mod:`.ws_steps`, the Socket.IO ones in :mod:`.socketio_steps`.

Each compiled step has ``async run(user) -> bool`` (False: it failed, or was skipped for a template
variable with no value), ``skip()`` (count it as not run) and ``ends_iteration`` (its ``on_failure``):
see ``Worker.run``'s iteration.
"""

from __future__ import annotations

import json as jsonlib
from time import perf_counter_ns
from typing import Any, Mapping

from ..metrics.recorder import Recorder
from ..metrics.snapshot import KIND_HTTP
from ..profile.models import HttpSettings, HttpStep, WsClose, WsConnect, WsHold, WsSend, WsWait
from ..profile.steps import PauseStep, SetStep
from ..profile.templates import Template, compile_template, compile_value, render_value
from .clients.http import HttpError
from .clients.tls import build_context
from .clients.heartbeats import Heartbeats
from .clients.ws_arrival import ArrivalBudget
from .clients.ws import ProxyCache, WsConnection
from .deadlines import WaitDeadlines
from .extract import compile_extract
from .flow import Guarded, MaybeAbsolute, PauseCall, SetCall, SetCookies
from .follow import REDIRECT_STATUSES, Follower
from .forms import FormBody, MultipartBody
from .jsonpath import MISSING as _MISSING, json_path

__all__ = ["compile_steps", "json_path", "User"]



class User:
    """What one virtual user (or one open-model iteration) carries between steps."""

    __slots__ = ("vars", "ws", "step_start_ns", "schedule_lag_ns", "stopping", "holding",
                 "cookies", "status", "started", "ended", "sio")

    def __init__(self, number: int, base_vars: Mapping[str, Any]) -> None:
        self.vars: dict[str, Any] = dict(base_vars)
        self.vars["user"] = number
        self.vars["iteration"] = 0
        self.ws: WsConnection | None = None
        self.step_start_ns = 0
        self.schedule_lag_ns = -1
        """Open model: how late this iteration started (ns); -1 in the closed model."""
        self.stopping = False
        self.holding = False
        """In a ws_hold: stopping this user cancels the hold rather than waiting it out."""
        self.cookies: Any = None
        """This user's cookie jar, made at the first ``Set-Cookie`` (see :mod:`.follow`)."""
        self.status = 0
        """The last HTTP status this user got (``status`` in a ``when``)."""
        self.started: list[Any] | None = None
        """Scenarios (``flow.ScenarioFlow``) with setup or teardown that this user has started."""
        self.ended = False
        """Ended by a failed setup or used-up data: sends nothing more."""
        self.sio: Any = None
        """This user's Socket.IO client (:mod:`.socketio_steps`), if a step opened one."""

    async def close(self) -> None:
        if self.started:
            started, self.started = self.started, None
            for flow in started:
                await flow.finish(self)
        if self.ws is not None:
            ws, self.ws = self.ws, None
            await ws.close()
        if self.sio is not None:
            sio, self.sio = self.sio, None
            await sio.close()


class Engine:
    """What steps need from their worker: the client, the recorder, the base URL, WS counters."""

    def __init__(self, client: Any, recorder: Recorder, base_url: str, ws_stats: Any, verify_tls: bool,
                 default_headers: dict[str, str], http: HttpSettings | None = None) -> None:
        self.client = client
        self.http = http or HttpSettings(verify_tls=verify_tls)
        self.follower = Follower(client, self.http)
        self.recorder = recorder
        self.base_url = base_url.rstrip("/")
        self.ws_base = "ws" + self.base_url[4:] if self.base_url.startswith("http") else self.base_url
        self.ws_proxies: ProxyCache = {}
        """The WebSocket proxy (from the environment) of each origin, looked up once a run."""
        self.ws_arrivals = ArrivalBudget()
        """How many more WebSockets may be read with the kernel's arrival stamps (:mod:`.clients.ws_arrival`)."""
        self._heartbeats: dict[float, Heartbeats] = {}
        self.wait_deadlines = WaitDeadlines()
        """The ``ws_wait`` timeouts, on one timer (:mod:`.deadlines`)."""
        self.ws_stats = ws_stats
        self.verify_tls = verify_tls
        self.default_headers = default_headers
        self._ws_tls: Any = None
        self.timings = self.http.timings
        """Record connection timings of the fast client's responses (``[http] timings``)."""
        self.timed_types: frozenset[type] = frozenset()
        """The response-header types that carry timings: the fast client's, and the HTTP/2 client's
        (its ``timed_types``); empty with timings off."""
        if self.timings:
            from .clients.h1conn import Headers  # imported when used, as make_client does

            self.timed_types = frozenset(getattr(client, "timed_types", (Headers,)))

    def ws_tls(self) -> Any:
        """The worker's TLS context for wss:// (built once): the fast HTTP client's own, so WebSockets get
        the same ``ca_bundle``, client certificate, ``verify_tls`` and resumed sessions; else one from the
        same ``[http]`` settings (:func:`.clients.tls.build_context`)."""
        if self._ws_tls is None:
            own = getattr(self.client, "tls_context", None)
            self._ws_tls = own() if own is not None else build_context(self.http)
        return self._ws_tls

    def heartbeats(self, interval: float) -> Heartbeats | None:
        """The run's heartbeat schedule for ``interval`` seconds (one timer for all its connections)."""
        if interval <= 0:
            return None
        if interval not in self._heartbeats:
            self._heartbeats[interval] = Heartbeats(interval)
        return self._heartbeats[interval]


def _loads(body: bytes) -> Any:
    """``json.loads(body)``: UTF-8 (RFC 8259) decoded directly, as bytes ``json.loads`` first guesses the
    encoding in Python (1.4 vs 3.2 us for a small document); UTF-16/32 bodies take that path still."""
    if b"\x00" not in body[:4]:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:  # not UTF-8: json's own detection decodes it, or raises the error the step names
            return jsonlib.loads(body)
        return jsonlib.loads(text)
    return jsonlib.loads(body)


def _render_map(templates: dict[str, Template], ctx: Mapping[str, Any]) -> dict[str, str] | None:
    if not templates:
        return None
    return {k: t.render(ctx) for k, t in templates.items()}


class _Step:
    """What every compiled step shares: its ``on_failure`` and how it counts as not run.

    A step may also have ``now(user)``: ``run(user)`` without a coroutine where it can finish at once,
    returning True/False then, else an awaitable of it (the plain iteration loop calls it, see
    :func:`.flow.make_iteration`; a coroutine made and run per step cost ~0.4 us an echo each)."""

    ends_iteration = True
    """A failure ends the iteration (``on_failure = "end_iteration"``)."""
    skip_rec: Any = None
    """The endpoint that counts this step as skipped (None: a step without an endpoint of its own)."""

    def skip(self) -> None:
        if self.skip_rec is not None:
            self.skip_rec.skipped += 1


class HttpCall(_Step):
    def __init__(self, step: HttpStep, eng: Engine) -> None:
        self.eng = eng
        self.follower = eng.follower
        self.method = step.method
        self.url_static = None
        self.url = compile_template(step.path, url=True)  # values percent-encoded
        if step.path.startswith("${"):
            self.url = MaybeAbsolute(self.url, eng.base_url)  # known at run time only
        elif not step.path.startswith(("http://", "https://")):
            self.url = self.url.prefixed(eng.base_url)
        if self.url.is_static:
            self.url_static = self.url.render({})
        self.query = {k: compile_template(v) for k, v in step.query.items()}
        merged = {**eng.default_headers, **step.headers}
        built: Any = None
        if step.form is not None:
            built = FormBody(step.form)
        elif step.multipart is not None:
            built = MultipartBody(step.multipart)
        if built is not None and not any(k.lower() == "content-type" for k in merged):
            merged["Content-Type"] = built.content_type
        self.headers = {k: compile_template(v) for k, v in merged.items()}
        # Static headers are sent as one prepared dict; none at all as None (aiohttp skips its merge).
        self.static_headers = (merged or None) if all(t.is_static for t in self.headers.values()) else None
        self.headers_static = all(t.is_static for t in self.headers.values())
        self.json = compile_value(step.json_body, typed=True) if step.json_body is not None else None
        self.body = compile_template(step.body) if step.body is not None else built
        check = step.check
        self.statuses = check.statuses()
        self.json_has = list(check.json_has)
        self.json_equals = {k: compile_value(v) for k, v in check.json_equals.items()}
        self.body_contains = compile_template(check.body_contains) if check.body_contains else None
        self.body_needle = self.body_contains.render({}).encode() if self.body_contains and self.body_contains.is_static else None
        self.extract, json_extract = compile_extract(step.extract)
        self.needs_json = bool(self.json_has or self.json_equals or json_extract)
        self.checks = self.body_contains is not None or self.needs_json or bool(self.extract)
        """Anything for :meth:`_check` to do beyond the status (skipped when not: ~0.3 us a request)."""
        self.rec = self.skip_rec = eng.recorder.endpoint(KIND_HTTP, step.stats_name, step.method)
        self.begin = getattr(eng.client, "begin", None)
        """The fast client's ``begin``: the response's future without a coroutine (None: other clients)."""
        self.timed_types = eng.timed_types if self.rec.ttfb_hist is not None else frozenset()
        self.fixed = ((self.url_static, self.static_headers, None, None, None) if self.url_static and self.headers_static
                      and not self.query and self.body is None and self.json is None else None)
        """A request with nothing to render: (url, headers, params, data, json) made once."""

    async def run(self, user: User) -> bool:
        if self.fixed is not None:
            url, headers, params, data, body_json = self.fixed
        else:
            ctx = user.vars
            try:
                url = self.url_static or self.url.render(ctx)
                headers = self.static_headers if self.headers_static else _render_map(self.headers, ctx)
                params = _render_map(self.query, ctx) if self.query else None
                data = self.body.render(ctx) if self.body is not None else None
                body_json = render_value(self.json, ctx) if self.json is not None else None
            except KeyError:  # a variable an earlier, failed step was to extract (on_failure = "continue")
                self.rec.skipped += 1
                return False
        start = perf_counter_ns()
        user.step_start_ns = start
        follower = self.follower  # cookies and redirects (follow.py), its send() inlined
        sent = follower.with_cookies(user.cookies, url, headers) if user.cookies is not None else headers
        try:
            fut = self.begin(self.method, url, sent, params, data, body_json) if self.begin is not None else None
            status, reason, body, resp_headers = await (
                fut if fut is not None else self.eng.client.request(self.method, url, sent, params, data, body_json))
            user.status = status
            if follower.cookies and getattr(resp_headers, "set_cookie", True):  # the fast client's: () mostly
                follower.keep(user, url, resp_headers)
            if status in REDIRECT_STATUSES and follower.follow:
                location = resp_headers.get("Location")
                if location is not None:
                    status, reason, body, resp_headers = await follower.redirect(
                        user, self.rec, self.method, url, headers, data, body_json, status, location)
                    user.status = status
        except HttpError as exc:
            self._fail(user, perf_counter_ns() - start, exc.name, exc.message, 0, 0)
            return False
        elapsed = perf_counter_ns() - start
        nbytes = len(body)
        ok_status = status in self.statuses if self.statuses is not None else 200 <= status < 400
        if not ok_status:
            self._fail(user, elapsed, f"HTTP {status}", reason, nbytes, status)
            return False
        if self.checks:
            problem = self._check(user, status, body, resp_headers, url)
            if problem is not None:
                self._fail(user, elapsed, "check failed", problem, nbytes, status)
                return False
        lag = user.schedule_lag_ns
        if lag >= 0:
            self.rec.success(elapsed + lag, nbytes, status, elapsed)
        else:
            self.rec.success(elapsed, nbytes, status)
        if type(resp_headers) in self.timed_types:  # the fast and HTTP/2 clients' responses carry timings
            self.rec.timed(resp_headers.first_ns - start, resp_headers.connect_ns, resp_headers.tls_ns)
        return True

    def _fail(self, user: User, elapsed: int, name: str, message: str, nbytes: int, status: int) -> None:
        lag = user.schedule_lag_ns
        self.rec.failure(elapsed + (lag if lag > 0 else 0), name, message, nbytes, status)

    def set_cookies(self, user: User, values: dict[str, str]) -> None:
        """A step's ``cookies``: into the user's jar for the step's URL, before it is sent."""
        try:
            url = self.url_static or self.url.render(user.vars)
        except KeyError:
            return
        self.follower.keep(user, url, SetCookies([f"{k}={v}; Path=/" for k, v in values.items()]))

    def _check(self, user: User, status: int, body: bytes, headers: Any, url: str = "") -> str | None:
        """None when the response passes every check (and extraction worked), else what failed."""
        if self.body_needle is not None:
            if self.body_needle not in body:
                return f"body does not contain {self.body_needle.decode()!r}"
        elif self.body_contains is not None:
            try:
                needle = self.body_contains.render(user.vars)
            except KeyError as exc:
                return f"body_contains: {exc.args[0]}"
            if needle.encode() not in body:
                return f"body does not contain {needle!r}"
        doc: Any = None
        if self.needs_json:
            try:
                doc = _loads(body)
            except ValueError:
                return "response is not JSON"
        for path in self.json_has:
            if json_path(doc, path) is _MISSING:
                return f"JSON field '{path}' missing"
        for path, expected in self.json_equals.items():
            try:
                want = render_value(expected, user.vars)
            except KeyError as exc:
                return f"JSON field '{path}': {exc.args[0]}"
            got = json_path(doc, path)
            if got is _MISSING or (got != want and str(got) != str(want)):
                return f"JSON field '{path}' is {got if got is not _MISSING else 'missing'!r}, expected {want!r}"
        for extractor in self.extract:
            problem = extractor(doc, body, headers, status, user, url)
            if problem is not None:
                return problem
        return None


def _compilers() -> dict[type, Any]:
    from .socketio_steps import COMPILERS as SOCKETIO
    from .ws_steps import WsCloseStep, WsHoldStep, WsOpen, WsSendStep, WsWaitStep

    return {
        HttpStep: HttpCall, WsConnect: WsOpen, WsSend: WsSendStep, WsWait: WsWaitStep,
        WsHold: WsHoldStep, WsClose: WsCloseStep, SetStep: SetCall, PauseStep: PauseCall, **SOCKETIO,
    }


def compile_steps(steps: list[Any], eng: Engine, on_failure: str = "end_iteration") -> list[Any]:
    """Compile a scenario's steps; ``on_failure`` is the scenario's (a step's own wins). A step with
    ``when``, ``retry`` or ``cookies`` is wrapped (:class:`.flow.Guarded`); the others run as they are."""
    compilers = _compilers()
    out = []
    for step in steps:
        compiled = compilers[type(step)](step, eng)
        compiled.ends_iteration = (getattr(step, "on_failure", None) or on_failure) == "end_iteration"
        when, retry, cookies = getattr(step, "when", None), getattr(step, "retry", None), getattr(step, "cookies", None)
        if when or retry or cookies:
            compiled = Guarded(compiled, when, retry, cookies)
        out.append(compiled)
    return out
