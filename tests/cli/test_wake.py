"""A decision made by another process wakes the server's long-polls and event streams at once.

On PostgreSQL, NOTIFY carries the news; on SQLite, the server's event watcher sees the new
events (service/watch.py). Here a real `signoff serve` holds a long-poll and an event stream
open while `signoff requests approve`, a separate process, decides.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.support import ok
from tests.integration.server import Server, run_signoff, serve

WAIT = 60  # what the long-poll asks for: far longer than any wake may take
WOKEN = 10  # an answer this soon after the decision was woken, not timed out (on a loaded CI
# machine a process may stall for seconds; the watcher itself looks 4 times a second)
READY = 120  # seconds `signoff serve` may take to start on a loaded machine


def _setup(env: dict[str, str]) -> str:
    ok(env, "users", "create", "--email", "ann@example.com", "--name", "Ann")
    return ok(env, "loops", "create", "refunds", "--reviewer", "ann@example.com").strip()


def _ask(server: Server, key: str, loop_id: str) -> str:
    made = httpx.post(
        f"{server.url}/v1/loops/{loop_id}/requests",
        json={"content": "Refund $120?"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
        trust_env=False,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


class _LongPoll(threading.Thread):
    def __init__(self, server: Server, key: str, request_id: str, wait: float) -> None:
        super().__init__(daemon=True)
        self.args = (server, key, request_id, wait)
        self.answer: dict[str, Any] = {}
        self.answered_at = 0.0
        self.started_at = 0.0

    def run(self) -> None:
        server, key, request_id, wait = self.args
        self.started_at = time.monotonic()
        answer = httpx.get(
            f"{server.url}/v1/requests/{request_id}/response",
            params={"wait": wait},
            headers={"Authorization": f"Bearer {key}"},
            timeout=wait + 10,
            trust_env=False,
        )
        self.answered_at = time.monotonic()
        self.answer = answer.json()


class _Stream(threading.Thread):
    """Reads the live event stream until `request.completed` for the request arrives."""

    def __init__(self, server: Server, key: str, request_id: str) -> None:
        super().__init__(daemon=True)
        self.args = (server, key, request_id)
        self.open = threading.Event()
        self.completed_at = 0.0

    def run(self) -> None:
        server, key, request_id = self.args
        headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        with httpx.stream(
            "GET", f"{server.url}/v1/events", headers=headers, timeout=WAIT + 10, trust_env=False
        ) as stream:
            self.open.set()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line.removeprefix("data: "))
                    if event["type"] == "request.completed" and event["request_id"] == request_id:
                        self.completed_at = time.monotonic()
                        return


def test_a_decision_from_the_cli_wakes_the_servers_waiters(
    env: dict[str, str], tmp_path: Path
) -> None:
    loop_id = _setup(env)
    with serve(env, tmp_path / "logs", timeout=READY) as server:
        key = server.first_key()
        assert key
        request_id = _ask(server, key, loop_id)
        poll = _LongPoll(server, key, request_id, WAIT)
        stream = _Stream(server, key, request_id)
        poll.start()
        stream.start()
        assert stream.open.wait(10)
        time.sleep(0.5)  # both are parked: the server has nothing to tell them yet
        assert poll.is_alive() and stream.is_alive()

        decided = run_signoff(env, "requests", "approve", request_id, "--as", "ann@example.com")
        assert decided.returncode == 0, decided.stderr
        committed = time.monotonic()  # the deciding process has exited: its commit is done
        poll.join(WAIT + 10)
        stream.join(WAIT + 10)
        assert poll.answer["status"] == "completed" and poll.answer["decision"] == "approved"
        assert poll.answer["decided_by"][0]["email"] == "ann@example.com"
        assert poll.answered_at - committed < WOKEN, poll.answered_at - committed
        assert stream.completed_at and stream.completed_at - committed < WOKEN


def test_without_the_watcher_sqlite_waiters_sleep_on(env: dict[str, str], tmp_path: Path) -> None:
    """The control: what the watcher is for. With it turned off, a waiter on SQLite only
    hears of another process's decision when its wait runs out."""
    if "SIGNOFF_DATABASE_URL" in env:
        pytest.skip("PostgreSQL wakes other processes with NOTIFY, not with the watcher")
    loop_id = _setup(env)
    with serve(
        {**env, "SIGNOFF_SQLITE_WATCH_SECONDS": "0"}, tmp_path / "logs", timeout=READY
    ) as server:
        key = server.first_key()
        assert key
        request_id = _ask(server, key, loop_id)
        poll = _LongPoll(server, key, request_id, 20)
        poll.start()
        time.sleep(0.5)
        decided = run_signoff(env, "requests", "approve", request_id, "--as", "ann@example.com")
        assert decided.returncode == 0, decided.stderr
        committed = time.monotonic()
        assert committed < poll.started_at + 15, "the decision came too late to tell anything"
        poll.join(40)
        # It answered only when its wait ran out (reading the request one last time then).
        assert poll.answered_at - poll.started_at >= 19, poll.answered_at - poll.started_at
        assert poll.answer["status"] == "completed"
