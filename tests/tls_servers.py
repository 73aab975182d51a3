"""TLS for tests: certificates made by the test (``cryptography``), and tests/servers.py's app over TLS.

``make_certs(folder)`` writes a CA, a server certificate for 127.0.0.1 and localhost signed by it, a
client certificate signed by it, and a key that belongs to neither. ``start_tls_server(certs, ...)`` serves
``servers.make_app()`` on https://127.0.0.1:<free port>, counting the TLS connections it accepted;
``client_ca=True`` makes it require a client certificate signed by the CA; ``keepalive`` closes idle
connections after that many seconds. ``ThreadedTlsServer`` is a small blocking server in a thread.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from servers import STATE, ServerState, make_app


@dataclass
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_both: Path
    """Client certificate and key in one PEM file."""
    stray_key: Path
    """A key that belongs to no certificate here."""


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _cert(subject: str, key, issuer: x509.Name | None, issuer_key, *, ca: bool = False,  # type: ignore[no-untyped-def]
          server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                        critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certs(folder: Path) -> Certs:
    ca_key, server_key, client_key = _key(), _key(), _key()
    ca = _cert("liminal test CA", ca_key, None, ca_key, ca=True)
    server = _cert("127.0.0.1", server_key, ca.subject, ca_key, server=True)
    client = _cert("liminal test client", client_key, ca.subject, ca_key)
    pem = serialization.Encoding.PEM
    files = {
        "ca": ca.public_bytes(pem),
        "server_cert": server.public_bytes(pem),
        "server_key": _pem_key(server_key),
        "client_cert": client.public_bytes(pem),
        "client_key": _pem_key(client_key),
        "client_both": client.public_bytes(pem) + _pem_key(client_key),
        "stray_key": _pem_key(_key()),
    }
    paths = {}
    for name, data in files.items():
        path = folder / f"{name}.pem"
        path.write_bytes(data)
        paths[name] = path
    return Certs(**paths)


def server_context(certs: Certs, client_ca: bool = False) -> ssl.SSLContext:
    """The server side's context: the server certificate; ``client_ca``: a client certificate signed by the
    test CA required."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.server_cert, certs.server_key)
    if client_ca:
        ctx.load_verify_locations(certs.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class TlsServer:
    """tests/servers.py's app on https://127.0.0.1:<port>; ``connections`` counts accepted TLS connections."""

    __test__ = False

    def __init__(self, runner: web.AppRunner, port: int, seen: set) -> None:
        self._runner = runner
        self.port = port
        self.url = f"https://127.0.0.1:{port}"
        self.state: ServerState = runner.app[STATE]
        self._seen = seen

    @property
    def connections(self) -> int:
        return len(self._seen)

    async def close(self) -> None:
        await self._runner.cleanup()


async def start_tls_server(certs: Certs, client_ca: bool = False, keepalive: float = 75.0) -> TlsServer:
    ctx = server_context(certs, client_ca)
    seen: set = set()

    @web.middleware
    async def track(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen.add(request.transport)  # kept alive by the set, so no two connections share an entry
        return await handler(request)

    app = make_app()
    app.middlewares.append(track)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, keepalive_timeout=keepalive)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    return TlsServer(runner, runner.addresses[0][1], seen)


class ThreadedTlsServer:
    """A blocking ``http.server`` over TLS in a thread (usable while a test waits on a subprocess);
    ``client_ca=True``: it requires a client certificate signed by the CA.

    Unlike asyncio's server side, the blocking ``ssl`` module sends the TLS alert when a handshake fails
    (``certificate required``), as nginx does, so the client sees why. ``requests`` counts the answers."""

    __test__ = False

    def __init__(self, certs: Certs, client_ca: bool = True) -> None:
        import http.server
        import threading

        ctx = server_context(certs, client_ca)
        owner = self
        self.requests = 0
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                with lock:
                    owner.requests += 1
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):  # type: ignore[no-untyped-def]
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def finish_request(self, request, client_address):  # type: ignore[no-untyped-def]
                try:
                    request.do_handshake()  # in the request's thread; a failure sends its alert
                except (ssl.SSLError, OSError):
                    return
                super().finish_request(request, client_address)

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"https://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class WssServer:
    """A WebSocket echo server over TLS on wss://127.0.0.1:<port> (``websockets`` with an SSL context),
    requiring a client certificate signed by the test CA; ``connections`` counts the WebSockets opened
    (the TLS handshake and the upgrade both done), ``messages`` the messages echoed."""

    __test__ = False

    def __init__(self, server, port: int) -> None:  # type: ignore[no-untyped-def]
        self._server = server
        self.port = port
        self.url = f"wss://127.0.0.1:{port}"
        self.connections = 0
        self.messages = 0

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def start_wss_server(certs: Certs) -> WssServer:
    from websockets.asyncio.server import serve

    ctx = server_context(certs, client_ca=True)
    owner: list[WssServer] = []

    async def echo(ws) -> None:  # type: ignore[no-untyped-def]
        owner[0].connections += 1
        async for message in ws:
            owner[0].messages += 1
            await ws.send(message)

    server = await serve(echo, "127.0.0.1", 0, ssl=ctx)
    wss = WssServer(server, server.sockets[0].getsockname()[1])
    owner.append(wss)
    return wss
