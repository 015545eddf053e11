"""Requests and loops through the SDK, on a real server: create, list, wait, decide."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from signoff.client import (
    AsyncClient,
    Client,
    Decision,
    InvalidTransition,
    Loop,
    NotFound,
    Request,
    WaitTimeout,
)
from tests.integration.server import serve, signoff_env

from .conftest import FAST, Live
from .support import deciding


def test_create_wait_decide(admin: Client, reviewer: Client, loop: Loop) -> None:
    request = admin.create_request(
        loop.id,
        "Refund $120 to Bob for the broken kettle.",
        title="Refund order 4711",
        metadata={"order": 4711},
        priority="high",
    )
    assert isinstance(request, Request)
    assert request.status == "pending" and request.decision is None
    assert request.id.startswith("req_") and request.review_url
    assert request.content_type == "text" and request.metadata == {"order": 4711}
    assert request.created_at.tzinfo is not None

    with deciding(
        reviewer,
        loop.id,
        "approve",
        feedback="Partial refund",
        edited_content="Refund $100 to Bob for the broken kettle.",
    ):
        decision = admin.wait(request.id, timeout=30)
    assert isinstance(decision, Decision)
    assert decision.approved and decision.status == "completed"
    assert decision.content == "Refund $100 to Bob for the broken kettle."
    assert decision.edited and decision.feedback == "Partial refund"
    assert decision.decided_by and decision.decided_by[0]["role"] == "reviewer"

    status = admin.get_status(request.id)
    assert (status.id, status.status, status.decision) == (request.id, "completed", "approved")
    again = admin.get_request(request.id)
    assert again.final_content == decision.content and again.completed_at is not None
    types = [e.type for e in admin.request_events(request.id)]
    assert types[0] == "request.created" and "request.completed" in types


def test_wait_answers_the_moment_the_decision_exists(
    admin: Client, reviewer: Client, loop: Loop
) -> None:
    request = admin.create_request(loop.id, "ship it")

    def decide_later() -> None:
        time.sleep(0.5)
        reviewer.decide(request.id, "reject", feedback="not today")

    thread = threading.Thread(target=decide_later)
    thread.start()
    started = time.monotonic()
    decision = admin.wait(request.id, timeout=30)
    elapsed = time.monotonic() - started
    thread.join()
    assert decision.decision == "rejected" and decision.feedback == "not today"
    assert 0.4 < elapsed < 3, elapsed  # a long-poll woken by the decision, not a poll interval


def test_wait_times_out_with_the_request_id(admin: Client, loop: Loop) -> None:
    request = admin.create_request(loop.id, "nobody will look")
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        admin.wait(request.id, timeout=0.6)
    assert 0.5 < time.monotonic() - started < 5
    assert caught.value.request_id == request.id
    assert request.id in str(caught.value)
    assert admin.get_response(request.id).pending


def test_json_content_batch_list_and_iterate(admin: Client, loop: Loop) -> None:
    single = admin.create_request(loop.id, {"action": "delete", "rows": 12})
    assert single.content_type == "json" and single.content == {"action": "delete", "rows": 12}
    batch = admin.create_requests(
        loop.id, [{"content": f"item {i}", "title": f"#{i}"} for i in range(4)]
    )
    assert [r.title for r in batch] == ["#0", "#1", "#2", "#3"]

    page = admin.list_requests(loop_id=loop.id, limit=2)
    assert len(page) == 2 and page.next_cursor
    second = admin.list_requests(loop_id=loop.id, limit=2, cursor=page.next_cursor)
    assert not {r.id for r in page} & {r.id for r in second}
    everything = list(admin.iter_requests(loop_id=loop.id))
    assert {r.id for r in everything} == {single.id, *(r.id for r in batch)}
    assert len(everything) == 5


def test_update_and_cancel(admin: Client, loop: Loop) -> None:
    request = admin.create_request(loop.id, "first draft", title="Draft")
    updated = admin.update_request(request.id, content="second draft", priority="urgent")
    assert updated.content == "second draft" and updated.priority == "urgent"
    assert updated.content_hash != request.content_hash
    cancelled = admin.cancel_request(request.id, reason="superseded")
    assert cancelled.status == "cancelled"
    with pytest.raises(InvalidTransition):
        admin.cancel_request(request.id)
    assert admin.wait(request.id, timeout=5).status == "cancelled"


def test_loops(admin: Client, live: Live) -> None:
    made = admin.create_loop("sdk-loop-crud", description="d", required_approvals=1)
    assert admin.get_loop(made.id) == made
    assert admin.find_loop("sdk-loop-crud").id == made.id
    assert admin.find_loop(made.id).id == made.id
    changed = admin.update_loop(made.id, reviewers=[live.reviewer_id], description="e")
    assert changed.reviewers == [live.reviewer_id] and changed.description == "e"
    assert made.id in {loop.id for loop in admin.iter_loops()}
    assert admin.list_loops(limit=1).data
    admin.delete_loop(made.id)
    with pytest.raises(NotFound):
        admin.get_loop(made.id)
    with pytest.raises(NotFound):
        admin.find_loop("sdk-loop-crud")


async def test_async_create_wait_decide(
    aadmin: AsyncClient, areviewer: AsyncClient, loop: Loop
) -> None:
    request = await aadmin.create_request(loop.id, "async ask", title="A")

    async def review() -> None:
        await asyncio.sleep(0.2)
        await areviewer.decide(request.id, "needs_changes", feedback="shorter")

    task = asyncio.create_task(review())
    decision = await aadmin.wait(request.id, timeout=30)
    await task
    assert decision.decision == "needs_changes" and decision.feedback == "shorter"
    page = await aadmin.list_requests(loop_id=loop.id)
    assert [r.id for r in page] == [request.id]
    assert [r.id async for r in aadmin.iter_requests(loop_id=loop.id)] == [request.id]
    with pytest.raises(WaitTimeout):
        other = await aadmin.create_request(loop.id, "again")
        await aadmin.wait(other.id, timeout=0.2)


def test_wait_keeps_to_a_server_with_a_shorter_longest_wait(tmp_path: Path) -> None:
    # SIGNOFF_MAX_WAIT_SECONDS=2 refuses `?wait=60`; `wait` then holds each call 2 s at most.
    env = signoff_env(data_dir=str(tmp_path / "data"), max_wait_seconds="2")
    with serve(env, tmp_path / "logs") as server:
        key = server.first_key()
        assert key
        with Client(server.url, key, **FAST) as client:  # type: ignore[arg-type]
            made = client.create_loop("short waits")
            request = client.create_request(made.id, "x")
            started = time.monotonic()
            with pytest.raises(WaitTimeout):
                client.wait(request.id, timeout=3)
            assert 2.9 < time.monotonic() - started < 6
            assert client.longest_wait == 2
