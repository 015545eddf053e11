"""examples/crew_review_loop.py: a crew whose reviewed task is redone with the reviewer's
feedback until approved, learning each decision from a signed webhook."""

from __future__ import annotations

import json
import time

import httpx

from signoff.client import Client, Loop
from tests.client.support import free_port

from .support import Example, Running, pending_in

SCRIPT = "crew_review_loop.py"
FIRST_DRAFT = "Dear Bob, we are sorry that the kettle arrived broken. A replacement is on its way."


def start(example: Example, loop: Loop, *args: str) -> Running:
    return example.start(
        SCRIPT,
        "--loop",
        loop.name,
        "--customer",
        "Bob",
        "--issue",
        "the kettle arrived broken",
        *args,
    )


def test_needs_changes_then_approved_the_crew_goes_on(
    example: Example, admin: Client, reviewer: Client, loop: Loop
) -> None:
    crew = start(example, loop)
    first = pending_in(reviewer, loop.id)
    assert first.content == FIRST_DRAFT
    assert first.title == "Support writer: Draft the reply to the customer"
    assert first.context["reviewer_feedback"] == []
    assert first.metadata == {"task": "draft_reply", "round": 1}
    reviewer.decide(first.id, "needs_changes", feedback="Offer a refund as well.")

    crew.wait_for(r"round 1: needs_changes")
    second = pending_in(reviewer, loop.id)
    assert second.previous_request_id == first.id
    assert second.context["reviewer_feedback"] == ["Offer a refund as well."]
    assert second.content == FIRST_DRAFT + " [Offer a refund as well.]"
    assert second.metadata == {"task": "draft_reply", "round": 2}
    final = "Dear Bob, sorry about the kettle: a replacement or a refund, as you prefer."
    reviewer.decide(second.id, "approve", edited_content=final)

    lines = crew.finish().splitlines()
    assert "[Support writer] round 2: approved" in lines
    assert json.loads(lines[-1]) == {
        "crew_output": f"sent to Bob: {final}",
        "rounds": [first.id, second.id],
    }
    assert [r.id for r in admin.list_requests(loop_id=loop.id).data] == [second.id, first.id]


def test_a_forged_webhook_is_refused_and_the_round_limit_stops_the_crew(
    example: Example, reviewer: Client, loop: Loop
) -> None:
    crew = start(example, loop, "--max-rounds", "2")
    receiver = crew.wait_for(r"webhook receiver on (\S+)")[1]
    first = pending_in(reviewer, loop.id)

    forged = {"type": "request.completed", "data": {"request_id": first.id, "decision": "approved"}}
    stamp = str(int(time.time()))
    answer = httpx.post(
        receiver,
        json=forged,
        headers={"webhook-id": "msg_x", "webhook-timestamp": stamp, "webhook-signature": "v1,AAAA"},
        trust_env=False,
    )
    assert answer.status_code == 400
    crew.wait_for("webhook refused: no signature matches the secret")

    reviewer.decide(first.id, "reject", feedback="Wrong customer.")
    second = pending_in(reviewer, loop.id)
    assert second.previous_request_id == first.id
    reviewer.decide(second.id, "reject", feedback="Still wrong.")
    lines = crew.finish(status=1).splitlines()
    assert lines[-1] == "crew stopped: draft_reply: not approved after 2 rounds"
    assert not any("delivered" in line for line in lines)


def test_without_a_webhook_it_reads_the_decision_from_the_api(
    example: Example, reviewer: Client, loop: Loop
) -> None:
    """A receiver Signoff cannot reach (here: a callback URL where nothing listens)."""
    unreachable = f"http://127.0.0.1:{free_port()}/nobody"
    crew = start(example, loop, "--public-url", unreachable, "--recheck", "0.5")
    request = pending_in(reviewer, loop.id)
    assert request.callback is not None and request.callback["url"] == unreachable
    reviewer.decide(request.id, "approve")

    lines = crew.finish().splitlines()
    assert f"no webhook for {request.id}: read the decision from the API" in lines
    assert json.loads(lines[-1]) == {
        "crew_output": f"sent to Bob: {FIRST_DRAFT}",
        "rounds": [request.id],
    }
