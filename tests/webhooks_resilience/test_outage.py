"""A receiver down while 1,000 decisions happen gets every one of them once it is back."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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

REQUESTS = 1000
# Short waits, and enough of them to outlast the outage: about two minutes of tries.
SCHEDULE = [0.2, 0.5, 1.0, *[2.0] * 60]


@pytest.mark.slow
def test_a_receiver_back_from_an_outage_gets_every_decision(db_url: str, tmp_path: Path) -> None:
    env = signoff_env(
        data_dir=str(tmp_path / "data"),
        database_url=db_url,
        allow_private_urls="true",
        webhook_retry_schedule=json.dumps(SCHEDULE),
        webhook_timeout_seconds="5",
    )
    port = free_port()
    with processes() as started, Receiver() as receiver:
        started.append(serve(env, tmp_path / "logs", port))
        decider = run_signoff(env, "keys", "create", "--role", "admin")
        api = Api(f"http://127.0.0.1:{port}", started[0].first_key(), decider, timeout=60)
        try:
            _, secret = api.webhook(receiver.url, ["request.completed"])
            loop_id = api.loop()
            batch = {"items": [{"content": f"item {i}"} for i in range(REQUESTS)]}
            ids = {r["id"] for r in api.post(f"/v1/loops/{loop_id}/requests/batch", batch)["data"]}
            assert len(ids) == REQUESTS

            began = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(api.approve, ids))
            deciding = time.monotonic() - began
            assert completed_requests(db_url) == ids

            # The receiver was down all along: every message is waiting for a retry.
            waiting = query(
                db_url,
                "SELECT COUNT(*) AS n, SUM(attempts) AS tries FROM messages "
                "WHERE status = 'pending'",
            )[0]
            assert (waiting.n, receiver.received) == (REQUESTS, []), message_states(db_url)

            receiver.start()
            back = time.monotonic()
            wait_until(
                "every request.completed received",
                lambda: receiver.completed_ids() >= ids,
                timeout=60,
            )
            catching_up = time.monotonic() - back
        finally:
            api.close()
        received = receiver.received
        assert receiver.completed_ids() == ids
        assert all(verify(secret, r) for r in received)
        wait_until(
            "every message marked delivered",
            lambda: message_states(db_url)["delivered"] == REQUESTS,
            timeout=15,
        )
        print(
            f"\n[outage {db_url.split(':')[0]}] {REQUESTS} decisions in {deciding:.1f} s "
            f"({REQUESTS / deciding:.0f}/s); {waiting.tries} failed tries while it was down; "
            f"all received {catching_up:.1f} s after the receiver came back "
            f"({REQUESTS / catching_up:.0f}/s); duplicates {duplicates(received)}"
        )
