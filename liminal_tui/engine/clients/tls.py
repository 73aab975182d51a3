"""TLS for the HTTP clients: one context per worker from ``[http]``, its files checked before a run,
and TLS failures given the same names in every client.

* :func:`build_context`: verification on by default against the system trust store (or only
  ``ca_bundle`` when one is given), a client certificate for mutual TLS, ALPN ``http/1.1``; SNI comes
  from the ``server_hostname`` each connection passes (not sent for an IP address, as the RFC says).
* :class:`ResumingContext`: asyncio's and uvloop's TLS transports create their ``SSLObject`` through
  ``context.wrap_bio(...)`` without a session, and neither ``create_connection`` nor ``start_tls`` takes
  one; this context hands the last session kept for the host to ``wrap_bio`` itself, so new and re-opened
  connections resume (an abbreviated handshake) instead of a full one.
* :func:`check_files`: bad paths or a key that does not fit its certificate are named by their profile
  key before the run (the CLI exits 2).
* :func:`describe`: an ``ssl`` exception as the message of the failure ``tls error``:
  ``certificate verify failed: self-signed certificate``, ``handshake timeout``,
  ``certificate required by the server (set http.client_cert)``, ``handshake failed: <reason>``.
"""

from __future__ import annotations

import os
import ssl
from contextvars import ContextVar
from typing import Any

from ...profile.models import HttpSettings

__all__ = ["ResumingContext", "build_context", "check_files", "closed_after_handshake", "describe", "handshake_started",
           "watch", "TLS_ERROR", "HANDSHAKE_TIMEOUT", "CERT_REQUIRED"]

TLS_ERROR = "tls error"
"""The failure name of every TLS problem, in every client."""
HANDSHAKE_TIMEOUT = "handshake timeout"
CERT_REQUIRED = "certificate required by the server (set http.client_cert)"

_OPENED: ContextVar[list | None] = ContextVar("liminal_tls_opened", default=None)
"""The current request's marker (:func:`watch`): ``wrap_bio`` puts there the ``SSLObject`` of a connection
the request opens. ``wrap_bio`` runs in the requesting task's context in asyncio's and uvloop's TLS
transports (``connection_made`` is scheduled from the task) and in anyio's (httpx: called in the task)."""

_SESSIONS_MAX = 256


class ResumingContext(ssl.SSLContext):
    """An ``SSLContext`` that resumes the last TLS session kept for a host (see the module's docstring)."""

    sessions: dict[str | None, ssl.SSLSession]
    """server_hostname -> the newest session a connection to it ended its first exchange with."""

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool = False,
                 server_hostname: str | None = None, session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        if session is None and not server_side:
            session = self.sessions.get(server_hostname)
        obj = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        marker = _OPENED.get()
        if marker is not None:
            marker[0] = obj
        return obj

    def keep(self, server_hostname: str | None, ssl_object: Any) -> None:
        """After a connection's first response (TLS 1.3 tickets arrive after the handshake): keep its session."""
        session = getattr(ssl_object, "session", None)
        if session is None or not (session.has_ticket or session.id):
            return
        if len(self.sessions) >= _SESSIONS_MAX and server_hostname not in self.sessions:
            self.sessions.clear()
        self.sessions[server_hostname] = session


def watch() -> list:
    """Before a request of aiohttp or httpx (whose connects happen inside the library): a fresh marker,
    ``[SSLObject]`` once the request has started a TLS handshake on a connection it opened, else ``[None]``;
    read with :func:`handshake_started` and :func:`closed_after_handshake` when the request fails."""
    marker: list = [None]
    _OPENED.set(marker)
    return marker


def handshake_started(marker: list | None) -> bool:
    """The request opened a connection and began its TLS handshake: a connect timeout now is the handshake's."""
    return marker is not None and marker[0] is not None


def closed_after_handshake(ssl_object: Any, client_cert: str | None) -> bool:
    """A new connection closed or reset before any response byte, right after a TLS 1.3 handshake, with no
    client certificate configured: the server refused the (empty) client certificate. TLS 1.3 finishes the
    client's side of the handshake before the server checks the certificate, so its alert ``certificate
    required`` arrives after; whether the client reads it or meets the closed socket first (a write's
    ``Broken pipe``, a read's reset) is a race between the loop and the kernel, different in every client.
    This gives all of them one answer: :data:`CERT_REQUIRED`."""
    if client_cert or ssl_object is None:
        return False
    cipher = ssl_object.cipher()  # still there once the connection is shut down, unlike version()
    return cipher is not None and cipher[1] == "TLSv1.3"


def _path(value: str) -> str:
    return os.path.expanduser(value)


def build_context(settings: HttpSettings, alpn: tuple[str, ...] = ("http/1.1",)) -> ResumingContext:
    """The worker's context from ``[http]``: ``verify_tls``, ``ca_bundle``, ``client_cert``/``client_key``."""
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.sessions = {}
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.verify_tls:
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if settings.ca_bundle:
            ctx.load_verify_locations(cafile=_path(settings.ca_bundle))
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if settings.client_cert:
        ctx.load_cert_chain(_path(settings.client_cert),
                            _path(settings.client_key) if settings.client_key else None)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def check_files(settings: HttpSettings) -> list[str]:
    """Problems with ``ca_bundle``, ``client_cert`` and ``client_key``, each naming its key (empty: fine)."""
    problems = []
    for key in ("ca_bundle", "client_cert", "client_key"):
        value = getattr(settings, key)
        if value and not os.path.isfile(_path(value)):
            problems.append(f"http.{key}: no such file {value!r}")
        elif value and not os.access(_path(value), os.R_OK):
            problems.append(f"http.{key}: cannot read {value!r}")
    if problems:
        return problems
    if settings.ca_bundle:
        try:
            ssl.create_default_context(cafile=_path(settings.ca_bundle))
        except (ssl.SSLError, ValueError) as exc:
            problems.append(f"http.ca_bundle: not a PEM bundle of CA certificates {settings.ca_bundle!r} ({_reason(exc)})")
    if settings.client_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_cert_chain(_path(settings.client_cert), _path(settings.client_key) if settings.client_key else None)
        except ssl.SSLError as exc:
            reason = _reason(exc)
            if "KEY_VALUES_MISMATCH" in str(exc).upper() or "key values mismatch" in reason:
                problems.append(f"http.client_key: {settings.client_key!r} is not the key of http.client_cert {settings.client_cert!r}")
            elif settings.client_key:
                problems.append(f"http.client_cert/http.client_key: cannot load {settings.client_cert!r} "
                                f"with {settings.client_key!r} ({reason})")
            else:
                problems.append(f"http.client_cert: {settings.client_cert!r} holds no private key; set http.client_key ({reason})")
        except OSError as exc:
            problems.append(f"http.client_cert: cannot load {settings.client_cert!r} ({exc.strerror or exc})")
    return problems


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else str(exc)


def ssl_cause(exc: BaseException | None) -> ssl.SSLError | None:
    """The innermost ``ssl`` error in ``exc``'s chain (aiohttp's wrappers are ``ssl.SSLError`` subclasses
    too, without the original's ``verify_message``, and chain the original); None: none."""
    found = None
    while exc is not None:
        if isinstance(exc, ssl.SSLError):
            found = exc
        exc = exc.__cause__ or exc.__context__
    return found


def connect_failure(exc: BaseException, marker: list | None, client_cert: str | None) -> str | None:
    """The message of the ``tls error`` a failed connect is (an ``ssl`` error in its chain, or a TLS 1.3
    connection closed right after its handshake: :func:`closed_after_handshake`); None: not a TLS failure.
    ``marker``: :func:`watch`'s, taken before the connect (None: not a TLS connect)."""
    if ssl_cause(exc) is not None:
        return describe(exc)
    if handshake_started(marker) and closed_after_handshake(marker[0], client_cert):  # type: ignore[index]
        return CERT_REQUIRED
    return None


def describe(exc: BaseException) -> str:
    """The message of a ``tls error`` for an ``ssl`` exception (or one caused by it)."""
    cause = ssl_cause(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {cause.verify_message or _reason(cause)}"
    if isinstance(cause, ssl.SSLError):
        reason = _reason(cause)
        if "certificate required" in reason:
            return CERT_REQUIRED
        if "certificate verify failed" in reason:
            return "certificate verify failed"
        return f"handshake failed: {reason}"
    return str(exc) or type(exc).__name__
