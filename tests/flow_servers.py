"""A target that implements the flows of real locustfiles, strictly, and counts what it saw.

Every route refuses what a real service would refuse (no session, wrong CSRF token, wrong hidden
token, unknown ticket, a file that is not the one expected), so a test whose counts match the server's
shows the profile did the flow right.

``POST /login``              JSON {username, password} of a known user: sets cookie ``sid``; 401 else
``GET /items``               needs the ``sid`` cookie: {"items": [{"id": 1}, ...]}; 401 else
``GET /items/{id}``          needs ``sid``; 404 for an unknown id
``POST /cart``               needs ``sid``; JSON {product_id: int, quantity: int 1..3}; 400 when a value is a string
``POST /logout``             needs ``sid``: ends the session
``GET /csrf``                sets cookie ``csrftoken``
``POST /notes``              needs header ``X-CSRFToken`` equal to the ``csrftoken`` cookie; 403 else
``GET /cas/login``           HTML form with a hidden ``lt`` token (a new one each time)
``POST /cas/login``          form-encoded username, password, lt: 302 to ``/app?ticket=ST-...``; 403 for a wrong lt
``GET /cas/validate``        ``?ticket=`` a ticket handed out (once): 200 "yes"; 403 else
``POST /upload``             multipart with field ``title`` and file ``avatar`` equal to ``UPLOAD_BYTES``; 400 else
``POST /token``              JSON {username, password} from ``USERS``: {"token": ...}; 401 else
``GET /me``                  ``Authorization: Bearer TOKEN``: {"username": ...}; 401 else
``GET /flaky``               fails (503) every other call per user (``?u=``), to exercise retry
``/ws/chat``                 a WebSocket that answers nothing until it gets {"op": "hello", "user": ...}, then
                             answers {"op": "welcome"} and echoes {"op": "echo", "text": ...} for each
                             {"op": "say"}; a say before hello is counted in ``ws_rude`` and closes the socket;
                             after ``drop_after`` says it drops the connection (to exercise reconnects)
Socket.IO (python-socketio) at ``/socket.io``, namespace ``/chat``: a connect needs ``auth = {token: "ok"}``;
``join`` {room} answers an ack {ok: true} after emitting ``message`` {room, n} to the sender
"""

from __future__ import annotations

import itertools
import json
import ssl
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

USERS = {f"user{i}": f"pw{i}" for i in range(1, 7)}
"""Credentials the server knows (the CSV in the flow tests holds the same)."""
UPLOAD_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class FlowState:
    counts: Counter = field(default_factory=Counter)
    """Successful requests per route name."""
    refused: Counter = field(default_factory=Counter)
    """Refused requests per route name (what a broken flow would cause)."""
    sessions: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    login_tokens: set = field(default_factory=set)
    tickets: set = field(default_factory=set)
    logins_by: Counter = field(default_factory=Counter)
    quantities: list = field(default_factory=list)
    ws_hellos: int = 0
    ws_says: int = 0
    ws_rude: int = 0
    ws_connects: int = 0
    drop_after: int = 0
    sio_connects: int = 0
    sio_refused: int = 0
    sio_joins: int = 0
    flaky: Counter = field(default_factory=Counter)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))


KEY = web.AppKey("flow", FlowState)


def _ok(request: web.Request, name: str, **kwargs) -> web.Response:  # type: ignore[no-untyped-def]
    request.app[KEY].counts[name] += 1
    if "json" in kwargs:
        return web.json_response(kwargs["json"])
    return web.Response(**kwargs)


def _refuse(request: web.Request, name: str, status: int) -> web.Response:
    request.app[KEY].refused[name] += 1
    return web.Response(status=status, text="refused")


def _session(request: web.Request) -> str | None:
    sid = request.cookies.get("sid")
    return sid if sid in request.app[KEY].sessions else None


async def login(request: web.Request) -> web.Response:
    st = request.app[KEY]
    try:
        doc = await request.json()
    except ValueError:
        return _refuse(request, "login", 400)
    if USERS.get(doc.get("username")) != doc.get("password"):
        return _refuse(request, "login", 401)
    sid = f"s{next(st.ids)}"
    st.sessions[sid] = doc["username"]
    st.logins_by[doc["username"]] += 1
    resp = _ok(request, "login", json={"ok": True})
    resp.set_cookie("sid", sid)
    return resp


async def items(request: web.Request) -> web.Response:
    if not _session(request):
        return _refuse(request, "items", 401)
    return _ok(request, "items", json={"items": [{"id": 11}, {"id": 12}, {"id": 13}]})


async def item(request: web.Request) -> web.Response:
    if not _session(request):
        return _refuse(request, "item", 401)
    if request.match_info["id"] not in ("11", "12", "13"):
        return _refuse(request, "item", 404)
    return _ok(request, "item", json={"id": int(request.match_info["id"])})


async def cart(request: web.Request) -> web.Response:
    if not _session(request):
        return _refuse(request, "cart", 401)
    doc = await request.json()
    pid, qty = doc.get("product_id"), doc.get("quantity")
    if type(pid) is not int or type(qty) is not int or not 1 <= qty <= 3 or pid not in (11, 12, 13):
        return _refuse(request, "cart", 400)
    request.app[KEY].quantities.append(qty)
    return _ok(request, "cart", json={"ok": True})


async def logout(request: web.Request) -> web.Response:
    sid = _session(request)
    if not sid:
        return _refuse(request, "logout", 401)
    del request.app[KEY].sessions[sid]
    return _ok(request, "logout", text="bye")


async def csrf(request: web.Request) -> web.Response:
    resp = _ok(request, "csrf", text="ok")
    resp.set_cookie("csrftoken", f"c{next(request.app[KEY].ids)}x")
    return resp


async def notes(request: web.Request) -> web.Response:
    cookie = request.cookies.get("csrftoken")
    if not cookie or request.headers.get("X-CSRFToken") != cookie:
        return _refuse(request, "notes", 403)
    return _ok(request, "notes", json={"saved": True})


async def cas_form(request: web.Request) -> web.Response:
    lt = f"LT-{next(request.app[KEY].ids)}"
    request.app[KEY].login_tokens.add(lt)
    html = f'<form method="post"><input type="hidden" name="lt" value="{lt}"><input name="username"></form>'
    return _ok(request, "cas form", text=html, content_type="text/html")


async def cas_login(request: web.Request) -> web.Response:
    st = request.app[KEY]
    if request.content_type != "application/x-www-form-urlencoded":
        return _refuse(request, "cas login", 415)
    form = await request.post()
    lt = form.get("lt")
    if lt not in st.login_tokens or USERS.get(str(form.get("username"))) != form.get("password"):
        return _refuse(request, "cas login", 403)
    st.login_tokens.discard(lt)
    ticket = f"ST-{next(st.ids)}-{form.get('username')}"
    st.tickets.add(ticket)
    st.counts["cas login"] += 1
    raise web.HTTPFound(f"/app?ticket={ticket}&lang=en")


async def cas_validate(request: web.Request) -> web.Response:
    ticket = request.query.get("ticket")
    if ticket not in request.app[KEY].tickets:
        return _refuse(request, "cas validate", 403)
    request.app[KEY].tickets.discard(ticket)
    return _ok(request, "cas validate", text="yes")


async def upload(request: web.Request) -> web.Response:
    if not request.content_type.startswith("multipart/form-data"):
        return _refuse(request, "upload", 415)
    form = await request.post()
    avatar, title = form.get("avatar"), form.get("title")
    if not hasattr(avatar, "file") or avatar.filename != "avatar.png" or avatar.content_type != "image/png":
        return _refuse(request, "upload", 400)
    if avatar.file.read() != UPLOAD_BYTES or not str(title).startswith("pic of user"):
        return _refuse(request, "upload", 400)
    return _ok(request, "upload", json={"stored": len(UPLOAD_BYTES)})


async def token(request: web.Request) -> web.Response:
    st = request.app[KEY]
    doc = await request.json()
    if USERS.get(doc.get("username")) != doc.get("password"):
        return _refuse(request, "token", 401)
    tok = f"t{next(st.ids)}"
    st.tokens[tok] = doc["username"]
    st.logins_by[doc["username"]] += 1
    return _ok(request, "token", json={"token": tok})


async def me(request: web.Request) -> web.Response:
    auth = request.headers.get("Authorization", "")
    user = request.app[KEY].tokens.get(auth.removeprefix("Bearer "))
    if not user:
        return _refuse(request, "me", 401)
    return _ok(request, "me", json={"username": user})


async def flaky(request: web.Request) -> web.Response:
    st = request.app[KEY]
    u = request.query.get("u", "")
    st.flaky[u] += 1
    if st.flaky[u] % 2:
        return _refuse(request, "flaky", 503)
    return _ok(request, "flaky", text="ok")


async def ws_chat(request: web.Request) -> web.WebSocketResponse:
    st = request.app[KEY]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    st.ws_connects += 1
    hello, says = False, 0
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        doc = json.loads(msg.data)
        if doc.get("op") == "hello" and doc.get("user"):
            hello = True
            st.ws_hellos += 1
            await ws.send_str(json.dumps({"op": "welcome"}))
        elif doc.get("op") == "say":
            if not hello:
                st.ws_rude += 1
                await ws.close()
                break
            st.ws_says += 1
            says += 1
            await ws.send_str(json.dumps({"op": "echo", "text": doc.get("text")}))
            if st.drop_after and says >= st.drop_after:
                await ws.close()
                break
    return ws


def make_flow_app() -> web.Application:
    app = web.Application()
    app[KEY] = FlowState()
    r = app.router
    r.add_post("/login", login)
    r.add_get("/items", items)
    r.add_get("/items/{id}", item)
    r.add_post("/cart", cart)
    r.add_post("/logout", logout)
    r.add_get("/csrf", csrf)
    r.add_post("/notes", notes)
    r.add_get("/cas/login", cas_form)
    r.add_post("/cas/login", cas_login)
    r.add_get("/cas/validate", cas_validate)
    r.add_post("/upload", upload)
    r.add_post("/token", token)
    r.add_get("/me", me)
    r.add_get("/flaky", flaky)
    r.add_get("/ws/chat", ws_chat)
    _attach_socketio(app)
    return app


def _attach_socketio(app: web.Application) -> None:
    import socketio

    sio = socketio.AsyncServer(async_mode="aiohttp")
    sio.attach(app)
    st = app[KEY]

    @sio.on("connect", namespace="/chat")
    async def connect(sid, environ, auth=None):  # type: ignore[no-untyped-def]
        if not isinstance(auth, dict) or auth.get("token") != "ok":
            st.sio_refused += 1
            return False
        st.sio_connects += 1
        return True

    @sio.on("join", namespace="/chat")
    async def join(sid, data):  # type: ignore[no-untyped-def]
        st.sio_joins += 1
        await sio.emit("message", {"room": data.get("room"), "n": st.sio_joins}, to=sid, namespace="/chat")
        return {"ok": True}


class FlowServer:
    __test__ = False

    def __init__(self, runner: web.AppRunner, port: int, scheme: str = "http") -> None:
        self._runner = runner
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.state: FlowState = runner.app[KEY]

    async def close(self) -> None:
        await self._runner.cleanup()


async def start_flow_server(ssl_context: ssl.SSLContext | None = None) -> FlowServer:
    """The flow app on http://127.0.0.1:<free port>, or https:// with ``ssl_context`` (tests/tls_servers.py)."""
    runner = web.AppRunner(make_flow_app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return FlowServer(runner, runner.addresses[0][1], "https" if ssl_context else "http")


def endpoint(final, name: str, kind: str = "http"):  # type: ignore[no-untyped-def]
    """The final snapshot's row for one endpoint; a clear assertion when the run has none."""
    row = final.find(kind, name)
    assert row is not None, f"no endpoint {kind} {name!r}"
    return row
