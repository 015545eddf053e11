"""Review until approved: produce, ask, revise with the feedback, ask again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from signoff.client import (
    AsyncClient,
    Cancelled,
    Client,
    Decision,
    Loop,
    ReviewRoundsExhausted,
    areview_until_approved,
    review_until_approved,
)

from .support import WAIT, pending_in


def _reviewer(
    reviewer: Client, loop_id: str, answers: list[tuple[str, str | None]]
) -> threading.Thread:
    """Answer each round's request in turn, as a person would."""

    def run() -> None:
        seen: set[str] = set()
        for choice, feedback in answers:
            while True:
                request = pending_in(reviewer, loop_id)
                if request.id not in seen:
                    break
            seen.add(request.id)
            reviewer.decide(request.id, choice, feedback=feedback)  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_revised_until_approved(admin: Client, reviewer: Client, loop: Loop) -> None:
    histories: list[list[str | None]] = []

    def draft(history: Sequence[Decision]) -> str:
        histories.append([d.feedback for d in history])
        return f"Reply, version {len(history) + 1}"

    thread = _reviewer(
        reviewer,
        loop.id,
        [("needs_changes", "Be warmer"), ("reject", "Wrong customer"), ("approve", None)],
    )
    approved = review_until_approved(
        draft, loop=loop.name, client=admin, max_rounds=3, timeout=30, title="Reply"
    )
    thread.join(WAIT)
    assert approved.approved and approved.content == "Reply, version 3"
    assert histories == [[], ["Be warmer"], ["Be warmer", "Wrong customer"]]

    rounds = sorted(admin.iter_requests(loop_id=loop.id), key=lambda r: r.created_at)
    assert [r.content for r in rounds] == [f"Reply, version {n}" for n in (1, 2, 3)]
    assert [r.previous_request_id for r in rounds] == [None, rounds[0].id, rounds[1].id]
    assert {r.title for r in rounds} == {"Reply"}
    assert approved.request_id == rounds[2].id


def test_gives_up_after_max_rounds(admin: Client, reviewer: Client, loop: Loop) -> None:
    thread = _reviewer(reviewer, loop.id, [("needs_changes", "no"), ("needs_changes", "still no")])
    with pytest.raises(ReviewRoundsExhausted) as caught:
        review_until_approved(
            lambda history: {"draft": len(history)},
            loop=loop.id,
            client=admin,
            max_rounds=2,
            timeout=30,
        )
    thread.join(WAIT)
    error = caught.value
    assert error.rounds == 2 and len(error.history) == 2
    assert error.decision.feedback == "still no" and error.feedback == "still no"
    assert "2 rounds" in str(error) and error.request_id in str(error)
    assert len(admin.list_requests(loop_id=loop.id).data) == 2


def test_a_round_that_ends_without_an_answer_ends_it(admin: Client, loop: Loop) -> None:
    # Cancelled (or timed out): no feedback, so nothing to revise; no further round is asked.
    def cancel() -> None:
        admin.cancel_request(pending_in(admin, loop.id).id, reason="not needed")

    thread = threading.Thread(target=cancel)
    thread.start()
    with pytest.raises(Cancelled):
        review_until_approved(lambda history: "x", loop=loop.id, client=admin, timeout=30)
    thread.join(WAIT)
    assert len(admin.list_requests(loop_id=loop.id).data) == 1


async def test_async(aadmin: AsyncClient, reviewer: Client, loop: Loop) -> None:
    async def draft(history: Sequence[Decision]) -> str:
        await asyncio.sleep(0)
        return "v" + str(len(history) + 1)

    thread = _reviewer(reviewer, loop.id, [("needs_changes", "more"), ("approve", None)])
    approved = await areview_until_approved(draft, loop=loop.id, client=aadmin, timeout=30)
    await asyncio.to_thread(thread.join, WAIT)
    assert approved.content == "v2"

    thread = _reviewer(reviewer, loop.id, [("reject", "no")])
    with pytest.raises(ReviewRoundsExhausted):
        await areview_until_approved(
            lambda history: "sync produce", loop=loop.id, client=aadmin, max_rounds=1, timeout=30
        )
    await asyncio.to_thread(thread.join, WAIT)
