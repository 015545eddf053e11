"""A receiver that trickles its answer cannot hold a send past the timeout.

The lease that keeps two dispatchers from sending one message at once (store/outbox.py
claim_due) is only as good as the bound on a send: a send that outlasts it lets another
dispatcher claim the message while the first is still sending. httpx's `timeout` bounds each
read, not the whole answer, so the send needs a deadline of its own.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import free_port, processes, serve, signoff_env, wait_until

TIMEOUT = 1.0
TRICKLE = 8.0  # seconds the receiver takes to answer, one byte at a time


class _Trickler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        body = b"x" * 16
        with contextlib.suppress(OSError):
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
            for byte in body:  # every read comes well within the timeout
                time.sleep(TRICKLE / len(body))
                conn.sendall(bytes([byte]))


@contextlib.contextmanager
def trickler() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Trickler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the database plays no part
def test_a_trickled_answer_is_cut_off_at_the_timeout(db_url: str, tmp_path: Path) -> None:
    env = signoff_env(
        data_dir=str(tmp_path / "data"),
        database_url=db_url,
        allow_private_urls="true",
        webhook_timeout_seconds=str(TIMEOUT),
        webhook_retry_schedule="[60]",
    )
    port = free_port()
    with processes() as started, trickler() as url:
        started.append(serve(env, tmp_path / "logs", port))
        headers = {"Authorization": f"Bearer {started[0].first_key()}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            took, attempt = _first_attempt(client, url)
    assert took < TRICKLE / 2, f"the send held on for {took:.1f} s: {attempt}"
    assert attempt["status_code"] is None and "timed out" in attempt["error"], attempt
    assert attempt["latency_ms"] < (TIMEOUT + 1) * 1000, attempt


def _first_attempt(client: httpx.Client, url: str) -> tuple[float, dict[str, Any]]:
    """Send a `webhook.test` to `url`; answers how long until its first attempt was recorded,
    and that attempt."""
    endpoint = client.post("/v1/webhooks", json={"url": url, "events": ["webhook.test"]})
    assert endpoint.status_code == 201, endpoint.text
    deliveries = f"/v1/webhooks/{endpoint.json()['id']}/deliveries"
    began = time.monotonic()
    assert client.post(f"/v1/webhooks/{endpoint.json()['id']}/test").status_code == 202

    def attempted() -> bool:
        return any(m["attempts"] for m in client.get(deliveries).json()["data"])

    wait_until("the first attempt recorded", attempted, timeout=TRICKLE + 10)
    took = time.monotonic() - began
    [message] = client.get(deliveries).json()["data"]
    [attempt] = client.get(f"{deliveries}/{message['id']}").json()["attempt_log"]
    return took, attempt
