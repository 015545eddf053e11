"""A reviewer's vote: the one decision path for the API, the web app, links and MCP."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..domain.assignment import Standing
from ..domain.ids import new_id
from ..domain.model import Loop, Principal, Request, StageStatus, Status, Vote
from ..domain.rules import stages_to_json
from ..domain.voting import Ballot, VoteVerdict, cast_vote, check_seen_hash, covered_voters
from ..errors import Conflict, NotFound
from ..store import loops as loop_store
from ..store import requests as store
from ..store.db import Conn
from . import assignments, timeouts
from .context import Context, Tx, transaction
from .requests import _leave_pending, _load, check_can_read
from .views import decision_snapshot, vote_snapshot


async def _move_stages(
    tx: Tx, request: Request, loop: Loop, verdict: VoteVerdict, voter: Principal, voted: set[str]
) -> None:
    """Write the stages a vote changed; a completed stage is an event of its own. The stage
    that starts gets its timeout timer and, on a loop that assigns, its own assignees (never
    one of `voted`, who voted in an earlier stage)."""
    assert verdict.stages is not None
    values: dict[str, Any] = {"stages": stages_to_json(verdict.stages), "updated_at": tx.now}
    following = verdict.next_stage
    if following is not None:
        values.update(
            stage=following,
            stage_started_at=tx.now,
            required_approvals=verdict.stages[following].stage.required_approvals,
        )
    await store.update_pending(tx.conn, request.id, values)
    entered = None
    if following is not None:
        entered = await _load(tx.conn, request.id)
        await timeouts.stage_entered(tx, entered)
    if verdict.stage_completed is None:
        return
    done = verdict.stage_completed
    skipped = [
        s.stage.name
        for s in verdict.stages[done + 1 : following]
        if s.status is StageStatus.skipped
    ]
    tx.record(
        "request.stage_completed",
        voter.actor(),
        {
            "request_id": request.id,
            "loop_id": request.loop_id,
            "status": request.status.value,
            "metadata": request.metadata,
            "stage": {"index": done, "name": verdict.stages[done].stage.name},
            "approvals": verdict.approvals,
            "required_approvals": verdict.required_approvals,
            "next_stage": None
            if following is None
            else {"index": following, "name": verdict.stages[following].stage.name},
            "skipped": skipped,
        },
        request=request,
    )
    if entered is not None:
        await assignments.assign_stage(tx, loop, entered, voted)


async def vote(
    ctx: Context, voter: Principal, request_id: str, ballot: Ballot
) -> tuple[Request, VoteVerdict, Vote]:
    """Record one vote and, when it completes the request, the decision; all in one transaction.

    The request row is locked first (FOR UPDATE on PostgreSQL; SQLite's writer is exclusive), so
    two votes racing for the last approval are counted one after the other, and the guarded
    update in `_leave_pending` makes sure the request completes once whatever happens.
    """
    check_seen_hash(ballot.content_hash)  # bad input is a 422 before any state is looked at
    async with transaction(ctx) as tx:
        return await vote_in(tx, voter, request_id, ballot)


async def check_vote(
    conn: Conn,
    voter: Principal,
    request: Request,
    loop: Loop,
    votes: list[Vote],
    ballot: Ballot,
    now: datetime,
) -> tuple[Principal, VoteVerdict]:
    """Every rule `ballot` must pass, writing nothing: the voter as the vote records them (a
    delegate's with `on_behalf_of`) and what the vote does. `votes`: the live ones."""
    standing: Standing | None = None
    # A review link grants its one request, so cast_vote checks it itself (standing None).
    if voter.link is None:
        standing = await assignments.standing_on(conn, request, loop, voter, now, votes)
        if standing.on_behalf_of is not None:
            voter = replace(voter, on_behalf_of=standing.on_behalf_of)  # a delegate's vote
    return voter, cast_vote(request, loop, votes, voter, ballot, standing)


async def vote_in(
    tx: Tx, voter: Principal, request_id: str, ballot: Ballot
) -> tuple[Request, VoteVerdict, Vote]:
    """`vote` inside a transaction the caller holds (a review link spends itself in it too)."""
    request = await _load(tx.conn, request_id, for_update=True)
    loop = await loop_store.get_loop(tx.conn, request.loop_id)
    if loop is None:
        raise NotFound(f"the loop of request {request_id} no longer exists")
    votes = await store.live_votes(tx.conn, request_id)
    voter, verdict = await check_vote(tx.conn, voter, request, loop, votes, ballot, tx.now)
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
        stage=request.stage,
    )
    try:
        async with tx.conn.begin_nested():
            await store.insert_vote(
                tx.conn,
                {**cast.__dict__, "choice": cast.choice.value, "on_behalf_of": voter.on_behalf_of},
            )
    except IntegrityError:
        raise Conflict(f"you have already voted on request {request_id}") from None
    await timeouts.picked_up(tx, request)
    tx.changed_requests.add(request_id)  # open review pages show the new count at once
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
            **({"stage": request.current_stage.name} if request.current_stage else {}),
        },
        request=request,
    )
    if verdict.stages is not None:
        voted = covered_voters(votes) | {voter.voter_id}
        if voter.on_behalf_of is not None:
            voted.add(voter.on_behalf_of)
        await _move_stages(tx, request, loop, verdict, voter, voted)
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


async def list_votes(ctx: Context, actor: Principal, request_id: str) -> list[Vote]:
    """Every vote on the request, voided ones too (`voided_at` set), in the order cast."""
    async with ctx.db.read() as conn:
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request, ctx.clock())
        return await store.all_votes(conn, request_id)
