"""examples/langgraph_approval.py: a LangGraph graph paused by `interrupt` while Signoff asks
a person, resumed with `Command(resume=…)`, across a kill of its process."""

from __future__ import annotations

from pathlib import Path

from signoff.client import Client, Loop, Request

from .support import Example, Running

SCRIPT = "langgraph_approval.py"
WAITING = r"waiting for review of (req_\w+)"


def start(example: Example, loop: Loop, thread: str) -> Running:
    """The example on `thread`: a thread id is unique in an application, and the review
    node's Idempotency-Key is made of it (the same key with other content would be a 422)."""
    return example.start(
        SCRIPT,
        *("--thread", thread, "--order", "4711", "--amount", "250"),
        *("--complaint", "the kettle arrived broken", "--loop", loop.name),
        *("--checkpoints", "checkpoints.db"),
    )


def requests_of(admin: Client, loop: Loop) -> list[Request]:
    return list(reversed(admin.list_requests(loop_id=loop.id).data))  # oldest first


def test_killed_while_waiting_it_resumes_from_the_checkpoint(
    example: Example, admin: Client, reviewer: Client, loop: Loop
) -> None:
    first = start(example, loop, "refund-4711")
    request_id = first.wait_for(WAITING)[1]
    first.kill()
    assert admin.get_request(request_id).status == "pending"

    again = start(example, loop, "refund-4711")
    again.wait_for("picked up from the checkpoint")
    assert again.wait_for(WAITING)[1] == request_id
    reviewer.decide(request_id, "approve", edited_content="Refund $200 on order 4711: partial.")

    assert again.finish().splitlines()[-2:] == [
        "thread refund-4711: approved",
        "refunded: Refund $200 on order 4711: partial. (as edited by the reviewer)",
    ]
    [request] = requests_of(admin, loop)  # asked once, across two processes
    assert request.id == request_id
    assert request.content == "Refund $250 on order 4711: the kettle arrived broken."
    assert request.metadata == {"order": 4711, "thread_id": "refund-4711", "round": 1}


def test_a_lost_checkpoint_still_asks_only_once(
    example: Example, admin: Client, reviewer: Client, loop: Loop
) -> None:
    """A crash between the request's creation and the checkpoint leaves no interrupt behind:
    the node runs again from the start, and its Idempotency-Key finds the same request."""
    first = start(example, loop, "refund-4711-lost")
    request_id = first.wait_for(WAITING)[1]
    first.kill()
    for path in Path(example.folder).glob("checkpoints.db*"):
        path.unlink()

    again = start(example, loop, "refund-4711-lost")
    again.wait_for("starting")
    assert again.wait_for(WAITING)[1] == request_id
    reviewer.decide(request_id, "approve")
    assert again.finish().splitlines()[-1] == (
        "refunded: Refund $250 on order 4711: the kettle arrived broken."
    )
    assert [r.id for r in requests_of(admin, loop)] == [request_id]


def test_needs_changes_drafts_again_as_a_revision(
    example: Example, admin: Client, reviewer: Client, loop: Loop
) -> None:
    graph = start(example, loop, "refund-4712")
    first = graph.wait_for(WAITING)[1]
    reviewer.decide(first, "needs_changes", feedback="Say that we keep the broken kettle.")

    second = graph.wait_for(rf"waiting for review of (?!{first})(req_\w+)")[1]
    revision = admin.get_request(second)
    assert revision.previous_request_id == first
    assert revision.content == (
        "Refund $250 on order 4711: the kettle arrived broken."
        " Revised after review: Say that we keep the broken kettle."
    )
    assert revision.metadata["round"] == 2
    reviewer.decide(second, "reject", feedback="Not covered: the warranty ended.")

    assert graph.finish().splitlines()[-1] == (
        "not refunded: rejected: Not covered: the warranty ended."
    )
    assert [r.id for r in requests_of(admin, loop)] == [first, second]
