"""What the SDK tests put around the real server: a reviewer that decides from another
thread, a faulty HTTP proxy, a TCP relay that can cut its connections, a webhook receiver."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx

from signoff.client import Client, Request

T = TypeVar("T")
WAIT = 15.0  # the longest any bounded wait in these tests may take


def until(check: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def pending_in(client: Client, loop_id: str) -> Request:
    """The one pending request of the loop, once there is one."""

    def check() -> Request | None:
        found = client.list_requests(loop_id=loop_id, status="pending").data
        assert len(found) <= 1, found
        return found[0] if found else None

    return until(check, f"a pending request in {loop_id}")


@contextlib.contextmanager
def deciding(reviewer: Client, loop_id: str, choice: str, **vote: Any) -> Iterator[list[Request]]:
    """A reviewer in another thread decides the next request of `loop_id` when it appears;
    the list it yields holds that request afterwards."""
    seen: list[Request] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            request = pending_in(reviewer, loop_id)
            seen.append(request)
            reviewer.decide(request.id, choice, **vote)  # type: ignore[arg-type]
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield seen
    thread.join(WAIT)
    if failure:
        raise failure[0]


# A faulty proxy


@dataclass
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    fault: str | None


@dataclass
class FaultyProxy:
    """An HTTP proxy in front of the real server that answers the next calls of a method as
    scripted in `faults` (e.g. `{"POST": ["503", "drop"]}`):

    - "503" / "429": answers that status with `Retry-After`, without forwarding;
    - "drop": forwards the call, then closes the connection without answering (the server
      did the work; only idempotency keeps the client's retry from doing it twice);
    - "502": forwards the call, then answers 502 (a gateway that lost the answer).
    """

    upstream: str
    faults: dict[str, list[str]] = field(default_factory=dict)
    retry_after: str = "0"
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[FaultyProxy]:
        proxy = self
        forward = httpx.Client(base_url=self.upstream, trust_env=False, timeout=120)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                planned = proxy.faults.get(self.command)
                fault = planned.pop(0) if planned else None
                key = self.headers.get("idempotency-key")
                proxy.seen.append(Seen(self.command, self.path, key, fault))
                if fault in ("503", "429"):
                    self._reply(int(fault), b"{}", {"Retry-After": proxy.retry_after})
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = forward.request(self.command, self.path, headers=headers, content=body)
                if fault == "drop":
                    self.close_connection = True
                    return
                if fault == "502":
                    self._reply(502, b"bad gateway", {})
                    return
                passed = {
                    k: v
                    for k, v in answer.headers.items()
                    if k.lower() in ("content-type", "retry-after", "idempotent-replayed")
                }
                self._reply(answer.status_code, answer.content, passed)

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            forward.close()

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]


class TcpRelay:
    """Bytes to and from the real server; `cut()` breaks every open connection at once."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.accepted = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.open += [client, upstream]
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.open.clear()

    def close(self) -> None:
        self.listener.close()
        self.cut()


class Receiver:
    """A webhook receiver on loopback that answers 200 and keeps what it got."""

    def __init__(self) -> None:
        received = self.received = []  # type: list[tuple[dict[str, str], bytes]]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
