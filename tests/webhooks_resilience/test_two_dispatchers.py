"""Two `signoff worker` processes on one PostgreSQL outbox share the work and never send the
same message twice at once.

The receiver is slow (50-200 ms a delivery), so that two sends of one webhook-id would overlap
there if both workers had claimed it. It tells the workers apart by the process that owns each
connection's socket (Linux /proc).
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .support import (
    Api,
    Receiver,
    duplicates,
    free_port,
    message_states,
    owner_of,
    processes,
    query,
    run_signoff,
    serve,
    signoff_env,
    verify,
    wait_until,
    worker,
)

REQUESTS = 400  # each makes three messages: request.created, request.vote, request.completed


def slow(webhook_id: str) -> float:
    """50-200 ms, the same for every try of one message."""
    return 0.05 + hashlib.sha256(webhook_id.encode()).digest()[0] / 255 * 0.15


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tells senders apart by /proc")
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_workers_share_one_outbox_and_never_send_a_message_twice_at_once(
    db_url: str, tmp_path: Path
) -> None:
    env = signoff_env(
        data_dir=str(tmp_path / "data"),
        database_url=db_url,
        allow_private_urls="true",
        workers="false",  # the API server sends nothing: the two workers do it all
    )
    port = free_port()
    logs = tmp_path / "logs"
    names: dict[int, str] = {}
    with (
        processes() as started,
        Receiver(delay=slow, identify=lambda peer: owner_of(peer, names)) as receiver,
    ):
        receiver.start()
        started.append(serve(env, logs, port))
        for name in ("worker-1", "worker-2"):
            started.append(worker(env, logs, name))
            names[started[-1].process.pid] = name
        decider = run_signoff(env, "keys", "create", "--role", "admin")
        api = Api(f"http://127.0.0.1:{port}", started[0].first_key(), decider, timeout=60)
        try:
            _, secret = api.webhook(receiver.url)
            loop_id = api.loop()
            batch = {"items": [{"content": f"item {i}"} for i in range(REQUESTS)]}
            created = api.post(f"/v1/loops/{loop_id}/requests/batch", batch)["data"]
            began = time.monotonic()
            # A burst first: the batch's request.created messages are all due at once.
            wait_until(
                "the batch's messages received",
                lambda: (
                    sum(r.payload["type"] == "request.created" for r in receiver.received)
                    >= REQUESTS
                ),
                timeout=30,
                every=0.05,
            )
            burst = time.monotonic() - began
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(api.approve, [r["id"] for r in created]))
        finally:
            api.close()
        expected = {r.id for r in query(db_url, "SELECT id FROM messages")}
        assert len(expected) >= 3 * REQUESTS
        wait_until(
            "every message received",
            lambda: {r.webhook_id for r in receiver.received} >= expected,
            timeout=60,
            every=0.2,
        )
        took = time.monotonic() - began
        wait_until(
            "every message marked delivered",
            lambda: message_states(db_url).keys() == {"delivered"},
            timeout=15,
        )
        assert all(p.alive() for p in started), [p.stderr for p in started]

    received = receiver.received
    split = Counter(r.sender for r in received)
    summary = (
        f"burst of {REQUESTS} in {burst:.1f} s ({REQUESTS / burst:.0f}/s), "
        f"{len(expected)} messages in {took:.1f} s, "
        f"split {dict(split)}, at most {receiver.most_in_flight} in flight, "
        f"{duplicates(received)} duplicates"
    )
    print(f"\n[two workers] {summary}")
    assert receiver.overlaps == [], f"a webhook-id in flight twice at once; {summary}"
    assert {r.webhook_id for r in received} == expected
    assert all(verify(secret, r) for r in received)
    assert duplicates(received) == 0, summary  # nothing failed, so nothing was sent again
    # Not a promise of the design, but each worker holds at most `webhook_concurrency` (64)
    # sends at a time, and 1,200 sends of 50-200 ms cannot all fit in one worker's slots.
    assert split.keys() == {"worker-1", "worker-2"}, summary
