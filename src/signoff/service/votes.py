"""A reviewer's vote: the one decision path for the API, the web app, links and MCP."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.exc import IntegrityError

from ..domain.ids import new_id
from ..domain.model import Principal, Request, Status, Vote
from ..domain.voting import Ballot, VoteVerdict, cast_vote
from ..errors import Conflict, NotFound
from ..store import loops as loop_store
from ..store import requests as store
from . import assignments
from .context import Context, transaction
from .requests import _leave_pending, _load
from .views import decision_snapshot, vote_snapshot


async def vote(
    ctx: Context, voter: Principal, request_id: str, ballot: Ballot
) -> tuple[Request, VoteVerdict, Vote]:
    """Record one vote and, when it completes the request, the decision; all in one transaction.

    The request row is locked first (FOR UPDATE on PostgreSQL; SQLite's writer is exclusive), so
    two votes racing for the last approval are counted one after the other, and the guarded
    update in `_leave_pending` makes sure the request completes once whatever happens.
    """
    async with transaction(ctx) as tx:
        request = await _load(tx.conn, request_id, for_update=True)
        loop = await loop_store.get_loop(tx.conn, request.loop_id)
        if loop is None:
            raise NotFound(f"the loop of request {request_id} no longer exists")
        votes = await store.live_votes(tx.conn, request_id)
        standing = await assignments.standing_on(tx.conn, request, loop, voter, tx.now)
        if standing.on_behalf_of is not None:
            voter = replace(voter, on_behalf_of=standing.on_behalf_of)  # a delegate's vote
        verdict = cast_vote(request, loop, votes, voter, ballot, standing)
        cast = Vote(
            id=new_id("vote", tx.now),
            request_id=request_id,
            voter_id=voter.voter_id,
            voter=voter.actor(),
            choice=ballot.choice,
            feedback=ballot.feedback,
            edited_content=ballot.edited_content,
            response_data=ballot.response_data,
            content_hash=request.content_hash,
            created_at=tx.now,
        )
        try:
            async with tx.conn.begin_nested():
                await store.insert_vote(tx.conn, {**cast.__dict__, "choice": cast.choice.value})
        except IntegrityError:
            raise Conflict(f"you have already voted on request {request_id}") from None
        tx.record(
            "request.vote",
            voter.actor(),
            {
                **vote_snapshot(cast),
                "request_id": request_id,
                # What every request event carries, so a receiver can route on it (DESIGN §2).
                "loop_id": request.loop_id,
                "status": request.status.value,
                "metadata": request.metadata,
                "approvals": verdict.approvals,
                "required_approvals": request.required_approvals,
            },
            request=request,
        )
        if verdict.outcome is not None:
            out = verdict.outcome
            await _leave_pending(
                tx,
                request,
                Status.completed,
                {
                    "decision": out.decision.value,
                    "feedback": out.feedback,
                    "final_content": out.final_content,
                    "edited": out.edited,
                    "response_data": out.response_data,
                    "decided_by": out.decided_by,
                },
            )
        await assignments.release_after_vote(
            tx.conn, request_id, voter.voter_id, verdict.outcome is not None
        )
        request = await _load(tx.conn, request_id)
        if verdict.outcome is not None:
            tx.record(
                "request.completed",
                voter.actor(),
                decision_snapshot(request),
                request=request,
            )
    return request, verdict, cast
