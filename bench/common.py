"""Shared pieces of the benches: tool setup (apt, the Locust venv), a private nginx, measured runs.

Everything here talks to 127.0.0.1 only, and every wait is bounded in time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
VENV = BENCH / ".venv-locust"
LOCUST = VENV / "bin" / "locust"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup


def which(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)


def ensure_apt(*packages: str, binaries: dict[str, str] | None = None) -> None:
    """Install Debian packages whose binary (same name, or ``binaries[package]``) is missing."""
    binaries = binaries or {}
    missing = [p for p in packages if which(binaries.get(p, p)) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing {', '.join(missing)}: run `sudo apt-get install -y {' '.join(missing)}`")
    log(f"apt-get install -y {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, timeout=600, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env, timeout=900, stdout=subprocess.DEVNULL)
    # The Debian package starts a system nginx on port 80; the benches use their own, so stop it.
    if "nginx" in missing and shutil.which("service"):
        subprocess.run(["service", "nginx", "stop"], timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    still = [p for p in packages if which(binaries.get(p, p)) is None]
    if still:
        raise SystemExit(f"could not install {', '.join(still)}")


def ensure_locust() -> Path:
    """A bench-only venv with Locust (so its gevent never meets the project's environment)."""
    if LOCUST.exists():
        return LOCUST
    log(f"creating {VENV.relative_to(ROOT)} with locust (pip)")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "locust"], check=True, timeout=900)
    if not LOCUST.exists():
        raise SystemExit("locust did not install into the bench venv")
    return LOCUST


def ensure_py(module: str, package: str | None = None) -> None:
    """Install a package into this interpreter (the project's env) if the module is missing."""
    try:
        __import__(module)
    except ImportError:
        log(f"pip install {package or module}")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", package or module], check=True, timeout=600)


def provenance() -> dict:
    """Which engine was measured: HEAD, and whether liminal_tui/ had uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""
    dirty = git("status", "--porcelain", "--", "liminal_tui")
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "liminal_tui_dirty": bool(dirty),
            "dirty_files": [line[3:] for line in dirty.splitlines()][:20]}


def liminal_cmd() -> list[str]:
    exe = shutil.which("liminal-tui")
    return [exe] if exe else [sys.executable, "-m", "liminal_tui"]


# ---------------------------------------------------------------- local servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g}s")


NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type text/plain;
    ssl_certificate {dir}/cert.pem;
    ssl_certificate_key {dir}/key.pem;
    ssl_session_cache shared:SSL:1m;
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{tls_port} ssl;
        listen 127.0.0.1:{h2_port} ssl http2;
        location / {{ return 200 "ok"; }}
        location = /items {{ default_type application/json; return 201 '{{"id":"$request_id","name":"x"}}'; }}
        location /items/ {{ default_type application/json; return 200 '{{"id":42,"name":"x"}}'; }}
    }}
}}
"""


def self_signed(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (``openssl`` CLI): cert.pem and key.pem in ``folder``."""
    cert = folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(cert)],
                   check=True, timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert


class Nginx:
    """nginx in the foreground from a temp dir: 1 worker, ``return 200 "ok"``, pinned to ``cpu``.

    Also on ``https_url`` (TLS, self-signed ``cert``) and ``h2_url`` (TLS + HTTP/2), and for the chain
    benches ``POST /items`` (201, ``{"id":"<a new random hex id each time>",...}``, so each GET is a new
    URL, as with a real API) and ``GET /items/<id>`` (200, JSON)."""

    def __init__(self, cpu: int = 0) -> None:
        self.cpu = cpu
        self.dir = Path(tempfile.mkdtemp(prefix="liminal-bench-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tls_port, self.h2_port = free_port(), free_port()
        self.https_url = f"https://127.0.0.1:{self.tls_port}"
        self.h2_url = f"https://127.0.0.1:{self.h2_port}"
        self.cert = self.dir / "cert.pem"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Nginx":
        conf = self.dir / "nginx.conf"
        self_signed(self.dir)
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port, tls_port=self.tls_port, h2_port=self.h2_port))
        nginx = which("nginx")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(self.cpu), nginx, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "wb"), start_new_session=True,
        )
        try:
            wait_port(self.port)
        except RuntimeError:
            self.__exit__()
            raise RuntimeError(f"nginx did not start: {(self.dir / 'stderr.log').read_text()[-500:]}")
        return self

    def pids(self) -> list[int]:
        import psutil

        if self.proc is None:
            return []
        try:
            p = psutil.Process(self.proc.pid)
            return [p.pid] + [c.pid for c in p.children(recursive=True)]
        except psutil.Error:
            return []

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- measured runs


def _cpu_times() -> list[tuple[float, float]]:
    """(busy, steal) seconds of each CPU since boot (/proc/stat). Steal is time this virtual machine's CPU
    was ready but the hypervisor ran something else: load from outside the machine, which no process here
    shows."""
    tick = os.sysconf("SC_CLK_TCK")
    out = []
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu") and line[3].isdigit():
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                out.append(((sum(v[:8]) - idle) / tick, (v[7] if len(v) > 7 else 0) / tick))
    return out


def _tree_cpu(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


@dataclass
class Measured:
    rc: int
    wall: float
    cpu: float
    """user+sys seconds of the process and all its descendants (reaped ones via wait4, live ones via psutil)."""
    stdout: str
    stderr: str
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since start, tree CPU seconds so far), every ~0.25 s."""
    server_cpu: float = 0.0
    foreign_cpu: float = 0.0
    """Busy CPU seconds on the machine not accounted to the generator or the server (noise), steal excluded."""
    per_process: dict[str, float] = field(default_factory=dict)
    """Last seen user+sys seconds of each process of the tree, by role (root, or the child's name)."""
    steal: float = 0.0
    """CPU seconds stolen by the hypervisor from this machine during the run (noise from outside it)."""


def run_measured(argv: list[str], cpu: int | None, timeout: float, cwd: Path | None = None,
                 server_pids: list[int] | None = None) -> Measured:
    """Run ``argv`` (pinned to ``cpu`` with taskset), measuring the CPU of its whole process tree."""
    import psutil

    cmd = (["taskset", "-c", str(cpu)] if cpu is not None else []) + argv
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    server_pids = server_pids or []
    server0 = _tree_cpu(server_pids)
    stat0 = _cpu_times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, start_new_session=True)
    last: dict[int, float] = {}  # pid -> last seen user+sys of descendants (orphans would escape wait4)
    names: dict[int, str] = {}
    samples: list[tuple[float, float]] = []
    status, ru = 0, None
    next_sample = 0.0
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        now = time.perf_counter() - t0
        if now > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, ru = os.wait4(proc.pid, 0)
            break
        if now >= next_sample:
            try:
                root = psutil.Process(proc.pid)
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    t = p.cpu_times()
                    last[p.pid] = t.user + t.system
                    if p.pid not in names:
                        cmd = " ".join(p.cmdline())
                        names[p.pid] = ("root" if p.pid == proc.pid else "worker" if "spawn_main" in cmd
                                        else "resource_tracker" if "resource_tracker" in cmd else p.name())
                except psutil.Error:
                    pass
            samples.append((now, sum(last.values())))
            next_sample = now + 0.25
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stat1 = _cpu_times()
    server = _tree_cpu(server_pids) - server0
    tree = ru.ru_utime + ru.ru_stime
    # Descendants still alive after the root exited (not reaped, so not in wait4's figure).
    for pid, seen in last.items():
        if pid != proc.pid and psutil.pid_exists(pid):
            try:
                if psutil.Process(pid).ppid() in (1, 0):
                    tree += seen
            except psutil.Error:
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of this run only (its own session)
    except ProcessLookupError:
        pass
    out.seek(0)
    err.seek(0)
    busy = sum(b for b, _ in stat1) - sum(b for b, _ in stat0)
    steal = sum(s for _, s in stat1) - sum(s for _, s in stat0)
    per: dict[str, float] = {}
    for pid, seen in last.items():
        role = names.get(pid, "?")
        per[role] = round(per.get(role, 0.0) + seen, 3)
    return Measured(proc.returncode, wall, tree, out.read().decode("utf-8", "replace"),
                    err.read().decode("utf-8", "replace"), samples, server, max(0.0, busy - steal - tree - server), per, steal)


def median(values: list[float]) -> float:
    v = sorted(x for x in values if x is not None)
    if not v:
        return float("nan")
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


GET_STEP = """
[[scenarios]]
name = "get"
[[scenarios.steps]]
type = "http"
method = "GET"
path = "/"
name = "GET /"
check = { status = 200 }
"""


def get_profile(name: str, url: str, seconds: float, load: str) -> str:
    """A profile of one checked GET / against ``url``; ``load`` is the body of its [load] table."""
    return f'name = "{name}"\ntarget = "{url}"\nduration = "{seconds}s"\n\n[load]\n{load.strip()}\n' + GET_STEP
