"""Real processes and a real receiver on loopback, for the webhook resilience tests.

- `Receiver`: an HTTP server on 127.0.0.1 that records every webhook it gets and answers 200.
  Its port is bound at once but only listens from `start()`: until then a connection is
  refused, as by a receiver that is down, and no other program can take the port meanwhile.
- `signoff(...)`: `signoff serve` / `signoff worker` in their own process, stopped (or killed)
  by the test; `Api`: a small HTTP client for the calls these tests make.
- `verify(...)`: the Standard Webhooks check, written out here from the specification, so that
  a mistake in src/signoff/webhook_signing.py cannot hide itself.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

_SCRIPT = Path(sys.executable).with_name("signoff")
SIGNOFF = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "from signoff.cli import main; main()"]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    """Poll `check` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


# --- the receiver -------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    sender: str  # which process sent it, when the receiver was told how to tell (else "")

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class _Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: list[Received] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    overlaps: list[str] = field(default_factory=list)  # webhook-ids seen twice at once
    most_in_flight: int = 0
    connections: set[socket.socket] = field(default_factory=set)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
    disable_nagle_algorithm = True
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.log.lock:
            self.server.log.connections.add(self.connection)
        self.sender = self.server.identify(self.client_address[1])

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # a sender killed mid-connection
            super().handle()

    def finish(self) -> None:
        with self.server.log.lock:
            self.server.log.connections.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        if len(body) < length:  # the sender died mid-request: nothing was delivered
            self.close_connection = True
            return
        webhook_id = self.headers.get("webhook-id", "")
        log = self.server.log
        with log.lock:
            log.in_flight[webhook_id] += 1
            if log.in_flight[webhook_id] > 1:
                log.overlaps.append(webhook_id)
            log.most_in_flight = max(log.most_in_flight, sum(log.in_flight.values()))
        try:
            if self.server.delay is not None:
                time.sleep(self.server.delay(webhook_id))
            with log.lock:
                log.received.append(
                    Received(
                        webhook_id,
                        self.headers.get("webhook-timestamp", ""),
                        self.headers.get("webhook-signature", ""),
                        body,
                        self.sender,
                    )
                )
        finally:
            with log.lock:
                log.in_flight[webhook_id] -= 1
        try:
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:  # the sender died waiting for the answer (it will send again)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: thousands of requests


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self,
        delay: Callable[[str], float] | None,
        identify: Callable[[int], str],
    ) -> None:
        self.log = _Log()
        self.delay = delay
        self.identify = identify
        super().__init__(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self.server_bind()  # the port is ours; connections are refused until server_activate


class Receiver:
    """A webhook receiver on loopback; `start()` opens it, `stop()` closes it for good.

    `delay(webhook_id)` is how long to take over each delivery; `identify(peer_port)` names
    the process a connection comes from (see `owner_of`).
    """

    def __init__(
        self,
        delay: Callable[[str], float] | None = None,
        identify: Callable[[int], str] = lambda _port: "",
    ) -> None:
        self._server = _Server(delay, identify)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server.server_activate()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
        with self._server.log.lock:
            open_connections = list(self._server.log.connections)
        for conn in open_connections:  # ends the handler threads waiting on keep-alive
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def received(self) -> list[Received]:
        with self._server.log.lock:
            return list(self._server.log.received)

    @property
    def overlaps(self) -> list[str]:
        with self._server.log.lock:
            return list(self._server.log.overlaps)

    @property
    def most_in_flight(self) -> int:
        return self._server.log.most_in_flight

    def completed_ids(self) -> set[str]:
        """The request ids of every `request.completed` received."""
        return {
            r.payload["data"]["request_id"]
            for r in self.received
            if r.payload["type"] == "request.completed"
        }


def owner_of(peer_port: int, pids: dict[int, str]) -> str:
    """The name of the process (among `pids`) whose TCP socket has local port `peer_port`.

    Linux only: finds the socket's inode in /proc/net/tcp, then the process holding it.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == peer_port:
                    inodes.add(f"socket:[{cols[9]}]")
    for pid, name in pids.items():
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return name
    return "unknown"


def verify(secret: str, received: Received) -> bool:
    """Standard Webhooks: one of the `v1,` signatures is HMAC-SHA256 of "id.timestamp.body"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{received.webhook_id}.{received.timestamp}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    candidates = [s.removeprefix("v1,") for s in received.signature.split() if s[:3] == "v1,"]
    return any(hmac.compare_digest(expected, c) for c in candidates)


def duplicates(received: list[Received]) -> int:
    """How many deliveries repeated a webhook-id already received."""
    return len(received) - len({r.webhook_id for r in received})


# --- signoff processes --------------------------------------------------------------------


def signoff_env(**settings: str) -> dict[str, str]:
    """This process's environment without any SIGNOFF_* variable, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env.update({f"SIGNOFF_{name.upper()}": value for name, value in settings.items()})
    return env


def run_signoff(env: dict[str, str], *args: str) -> str:
    """A one-off `signoff` command; answers what it printed."""
    done = subprocess.run(
        [*SIGNOFF, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def first_key(self) -> str:
        """The admin key `signoff serve` prints when it starts on an empty database."""
        found = re.findall(r"\bsk_[0-9a-f]+_[A-Za-z0-9_-]+", self.stdout_path.read_text())
        assert len(found) == 1, self.stdout_path.read_text()
        return str(found[0])

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine loses power."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start(env: dict[str, str], logs: Path, name: str, *args: str) -> Proc:
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"{name}.out", logs / f"{name}.err"
    with out_path.open("ab") as out, err_path.open("ab") as err:
        process = subprocess.Popen([*SIGNOFF, *args], env=env, stdout=out, stderr=err)
    return Proc(name, process, out_path, err_path)


def serve(env: dict[str, str], logs: Path, port: int, name: str = "serve") -> Proc:
    """`signoff serve` on `port`, ready (GET /healthz answers 200)."""
    proc = start(env, logs, name, "serve", "--port", str(port))
    url = f"http://127.0.0.1:{port}/healthz"

    def ready() -> bool:
        if not proc.alive():
            raise AssertionError(f"signoff serve exited:\n{proc.stderr}")
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(url, timeout=1, trust_env=False).status_code == 200
        return False

    try:
        wait_until(f"signoff serve on port {port} ready", ready, 30, every=0.05)
    except BaseException:
        proc.stop()
        raise
    return proc


def worker(env: dict[str, str], logs: Path, name: str) -> Proc:
    """`signoff worker`, running (it has said so on stderr)."""
    proc = start(env, logs, name, "worker")

    def ready() -> bool:
        if not proc.alive():
            raise AssertionError(f"signoff worker exited:\n{proc.stderr}")
        return "signoff worker running" in proc.stderr

    try:
        wait_until(f"{name} running", ready, 30, every=0.05)
    except BaseException:
        proc.stop()
        raise
    return proc


@contextlib.contextmanager
def processes() -> Iterator[list[Proc]]:
    """A list to put started processes in; every one is stopped on the way out."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()


class Api:
    """The calls these tests make, with two admin keys: one asks, the other decides."""

    def __init__(self, url: str, asker: str, decider: str, timeout: float = 10) -> None:
        self.url = url
        self.asker = {"Authorization": f"Bearer {asker}"}
        self.decider = {"Authorization": f"Bearer {decider}"}
        self.client = httpx.Client(base_url=url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self.client.close()

    def post(self, path: str, body: dict[str, Any], *, decide: bool = False) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.decider if decide else self.asker)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer

    def webhook(self, url: str, events: list[str] | None = None) -> tuple[str, str]:
        """Subscribe `url`; answers the endpoint's id and secret."""
        created = self.post("/v1/webhooks", {"url": url, "events": events})
        return created["id"], created["secret"]

    def loop(self) -> str:
        return str(self.post("/v1/loops", {"name": "resilience"})["id"])

    def approve(self, request_id: str) -> None:
        self.post(f"/v1/requests/{request_id}/decisions", {"decision": "approve"}, decide=True)


# --- the database, read directly --------------------------------------------------------


def query(db_url: str, sql: str) -> list[Any]:
    """Rows of `sql`, read straight from the database (`sqlite:///…` or `postgresql://…`)."""
    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))
    finally:
        engine.dispose()


def completed_requests(db_url: str) -> set[str]:
    return {r.id for r in query(db_url, "SELECT id FROM requests WHERE status = 'completed'")}


def message_states(db_url: str) -> dict[str, int]:
    rows = query(db_url, "SELECT status, COUNT(*) AS n FROM messages GROUP BY status")
    return defaultdict(int, {r.status: int(r.n) for r in rows})
