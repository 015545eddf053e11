"""`signoff serve` killed (SIGKILL) at random moments while decisions flow loses no webhook
and sends none for a change that did not commit.

The database is the judge: after the last restart, every request it holds as completed must
have reached the receiver as `request.completed`, and nothing else may have; every decision
the API acknowledged must be in it. Duplicates are allowed (delivery is at least once) and
reported. A failing run prints its seed: WEBHOOK_CRASH_SEED=<seed> replays its kill times.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from .support import (
    Api,
    Receiver,
    completed_requests,
    duplicates,
    free_port,
    message_states,
    processes,
    query,
    run_signoff,
    serve,
    signoff_env,
    verify,
    wait_until,
)

KILLS = 5
DRIVERS = 4
TIMEOUT = 1.0  # the send timeout; a killed server's claims are free again 2 x this + 30 s later
LEASE = TIMEOUT * 2 + 30


class Driver:
    """Clients asking and deciding without pause; a server that is down is simply retried."""

    def __init__(self, url: str, asker: str, decider: str, loop_id: str) -> None:
        self.url = url
        self.asker = {"Authorization": f"Bearer {asker}"}
        self.decider = {"Authorization": f"Bearer {decider}"}
        self.loop_id = loop_id
        self.decided: set[str] = set()  # requests whose decision the API acknowledged
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(DRIVERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
        assert not any(t.is_alive() for t in self._threads)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    self._one(client)
                except httpx.HTTPError:
                    with self._lock:
                        self.errors += 1
                    time.sleep(0.05)

    def _one(self, client: httpx.Client) -> None:
        created = client.post(
            f"/v1/loops/{self.loop_id}/requests", json={"content": "ship it?"}, headers=self.asker
        )
        if created.status_code != 201:
            time.sleep(0.05)
            return
        request_id = created.json()["id"]
        decided = client.post(
            f"/v1/requests/{request_id}/decisions",
            json={"decision": "approve"},
            headers=self.decider,
        )
        if decided.status_code == 201:
            with self._lock:
                self.decided.add(request_id)


@pytest.mark.slow
def test_killed_servers_lose_no_webhook_and_send_none_for_uncommitted_changes(
    db_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("WEBHOOK_CRASH_SEED") or random.randrange(1_000_000))
    rng = random.Random(seed)
    env = signoff_env(
        data_dir=str(tmp_path / "data"),
        database_url=db_url,
        allow_private_urls="true",
        webhook_retry_schedule=json.dumps([0.2, 0.5, *[1.0] * 60]),
        webhook_timeout_seconds=str(TIMEOUT),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    with processes() as started, Receiver() as receiver:
        receiver.start()
        server = serve(env, logs, port, "serve-0")
        started.append(server)
        asker = server.first_key()
        decider = run_signoff(env, "keys", "create", "--role", "admin")
        api = Api(url, asker, decider)
        try:
            _, secret = api.webhook(receiver.url)  # every event type, for more traffic
            loop_id = api.loop()
        finally:
            api.close()
        driver = Driver(url, asker, decider, loop_id)
        driver.start()
        try:
            for kill in range(1, KILLS + 1):
                time.sleep(rng.uniform(0.3, 1.5))
                server.kill()
                server = serve(env, logs, port, f"serve-{kill}")
                started.append(server)
            time.sleep(1)
        finally:
            driver.stop()

        # Messages claimed by a killed server wait for their lease to run out, then go.
        began = time.monotonic()
        wait_until(
            "the outbox drained",
            lambda: message_states(db_url)["pending"] == 0,
            timeout=LEASE + 30,
            every=0.5,
        )
        drained = time.monotonic() - began
        assert server.alive(), server.stderr

    completed = completed_requests(db_url)
    received = receiver.received
    heard = receiver.completed_ids()
    summary = (
        f"seed {seed}: {KILLS} kills, {len(driver.decided)} decisions answered, "
        f"{len(completed)} completed in the database, {len(received)} webhooks received "
        f"({duplicates(received)} duplicates), drained {drained:.1f} s after the last restart"
    )
    print(f"\n[crash {db_url.split(':')[0]}] {summary}")
    assert len(driver.decided) >= 20, summary  # enough traffic for the test to mean something
    assert driver.decided <= completed, f"an acknowledged decision was lost; {summary}"
    assert completed - heard == set(), f"completed but never received; {summary}"
    assert heard - completed == set(), f"received, but not completed in the database; {summary}"
    assert all(verify(secret, r) for r in received), summary
    assert message_states(db_url).keys() <= {"delivered"}, message_states(db_url)
    # Every message the database holds reached the receiver (not only request.completed).
    ids = {r.id for r in query(db_url, "SELECT id FROM messages")}
    assert ids == {r.webhook_id for r in received}, summary
