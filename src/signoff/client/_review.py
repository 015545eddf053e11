"""Review until approved: the agent-framework pattern of produce, ask, revise with the
feedback, ask again (each round a revision of the last, so reviewers see the thread)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ._approval import AsyncSession, SyncSession, aloop_id_of, announce, loop_id_of
from ._async import AsyncClient
from ._errors import ReviewRoundsExhausted, not_approved
from ._models import Decision
from ._sync import Client

Produce = Callable[[Sequence[Decision]], Any]


def _next_round(decision: Decision, history: list[Decision], max_rounds: int) -> None:
    """Return when another round is due; raise when the review is over without approval."""
    if decision.decision not in ("rejected", "needs_changes"):
        raise not_approved(decision)  # timed out or cancelled: nobody asked for a revision
    history.append(decision)
    if len(history) >= max_rounds:
        raise ReviewRoundsExhausted(history)


def _check(max_rounds: int) -> None:
    if max_rounds < 1:
        raise ValueError("max_rounds must be at least 1")


def review_until_approved(
    produce: Produce,
    *,
    loop: str,
    client: Client | None = None,
    max_rounds: int = 3,
    timeout: float | None = None,
    **fields: Any,
) -> Decision:
    """Ask `loop` (an id or a name) to review `produce(history)`, and while the answer is
    "needs changes" or "rejected", produce again and ask again, as a revision of the last
    request. `history` holds the earlier answers, oldest first: their `feedback` is what to
    do differently. Answers the approving decision (its `content` is what was approved,
    with any edit the reviewer made).

        def draft(history):
            notes = "\\n".join(d.feedback or "" for d in history)
            return llm(f"Write the reply. Reviewer notes so far:\\n{notes}")

        approved = review_until_approved(draft, loop="support-replies", title="Reply")
        send(approved.content)

    Raises ReviewRoundsExhausted (with the last decision and the history) after `max_rounds`
    rounds without approval; Expired or Cancelled when a round ends without any answer;
    WaitTimeout when one round waits longer than `timeout` seconds. `fields` are the other
    request fields (`title`, `context`, `metadata`, `priority`, …).
    """
    _check(max_rounds)
    history: list[Decision] = []
    previous: str | None = None
    with SyncSession(client) as signoff:
        loop_id = loop_id_of(loop, signoff)
        while True:
            content = produce(list(history))
            request = signoff.create_request(
                loop_id, content, **fields, previous_request_id=previous
            )
            announce(request, f"round {len(history) + 1}")
            decision = signoff.wait(request.id, timeout=timeout)
            if decision.approved:
                return decision
            _next_round(decision, history, max_rounds)
            previous = request.id


async def areview_until_approved(
    produce: Callable[[Sequence[Decision]], Any | Awaitable[Any]],
    *,
    loop: str,
    client: AsyncClient | None = None,
    max_rounds: int = 3,
    timeout: float | None = None,
    **fields: Any,
) -> Decision:
    """`review_until_approved` for asyncio; `produce` may be a plain or an async function."""
    _check(max_rounds)
    history: list[Decision] = []
    previous: str | None = None
    async with AsyncSession(client) as signoff:
        loop_id = await aloop_id_of(loop, signoff)
        while True:
            content = produce(list(history))
            if inspect.isawaitable(content):
                content = await content
            request = await signoff.create_request(
                loop_id, content, **fields, previous_request_id=previous
            )
            announce(request, f"round {len(history) + 1}")
            decision = await signoff.wait(request.id, timeout=timeout)
            if decision.approved:
                return decision
            _next_round(decision, history, max_rounds)
            previous = request.id
