"""examples/agent_decorator.py: a refund agent whose large refunds wait for a reviewer."""

from __future__ import annotations

from signoff.client import Client, Loop, Request

from .support import Example, Running, pending_in

SCRIPT = "agent_decorator.py"


def start(example: Example, loop: Loop, *tickets: str) -> Running:
    return example.start(SCRIPT, *tickets, REFUND_LOOP=loop.name)


def only_request(admin: Client, loop: Loop) -> Request:
    [request] = admin.list_requests(loop_id=loop.id).data
    return request


def test_approved_with_an_edit_refunds_what_the_reviewer_approved(
    example: Example, admin: Client, reviewer: Client, loop: Loop
) -> None:
    agent = start(example, loop, "4711:250:kettle broke", "4712:40:late delivery")
    request = pending_in(reviewer, loop.id)
    assert request.title == "Refund $250 on order 4711"
    assert request.metadata == {"order": 4711, "agent": "refund-agent"}
    assert request.content == {
        "function": "__main__.refund",
        "arguments": {"order": 4711, "amount": 250, "reason": "Customer reports: kettle broke"},
    }
    edited = {**request.content, "arguments": {**request.content["arguments"], "amount": 200}}
    reviewer.decide(request.id, "approve", edited_content=edited)

    assert agent.finish().splitlines() == [
        "refunded $200 on order 4711 (Customer reports: kettle broke)",
        "refunded $40 on order 4712 (Customer reports: late delivery)",
    ]
    assert only_request(admin, loop).id == request.id  # $40 is under the threshold: not asked


def test_rejected_refunds_nothing_and_says_why(
    example: Example, admin: Client, reviewer: Client, loop: Loop
) -> None:
    agent = start(example, loop, "4713:500:never arrived")
    request = pending_in(reviewer, loop.id)
    reviewer.decide(request.id, "reject", feedback="The parcel was delivered; see tracking.")

    assert agent.finish().splitlines() == [
        "not refunded: order 4713 rejected: The parcel was delivered; see tracking."
    ]
    assert only_request(admin, loop).decision == "rejected"


def test_changes_requested_goes_back_to_a_person(
    example: Example, reviewer: Client, loop: Loop
) -> None:
    agent = start(example, loop, "4714:300:wrong colour")
    request = pending_in(reviewer, loop.id)
    reviewer.decide(request.id, "needs_changes", feedback="Offer an exchange first.")

    assert agent.finish().splitlines() == [
        "back to a person: order 4714 needs changes: Offer an exchange first."
    ]


def test_a_rerun_after_a_crash_finds_the_same_request(
    example: Example, admin: Client, reviewer: Client, loop: Loop
) -> None:
    first = start(example, loop, "4715:150:cracked screen")
    request = pending_in(reviewer, loop.id)
    first.kill()

    again = start(example, loop, "4715:150:cracked screen")
    again.wait_for(
        rf"waiting for approval .* request {request.id}", log=True
    )  # on the first run's request
    assert only_request(admin, loop).id == request.id
    reviewer.decide(request.id, "approve")
    assert again.finish().splitlines() == [
        "refunded $150 on order 4715 (Customer reports: cracked screen)"
    ]
