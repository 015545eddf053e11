"""Votes and quorum: what one vote does to a request. Returns a verdict; never writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from .assignment import Standing
from .canonical import CONTENT_HASH_FORMAT, is_content_hash
from .model import (
    Choice,
    ContentType,
    Decision,
    Loop,
    Principal,
    Request,
    RequestStage,
    ResponseType,
    Role,
    StageStatus,
    Vote,
)
from .responses import check_answer
from .rules import enter_next, facts_of_request, mark_stage


@dataclass(frozen=True)
class Ballot:
    """A reviewer's answer as it arrives, before any rule has looked at it."""

    choice: Choice
    feedback: str | None = None
    edited_content: Any = None
    response_data: Any = None
    content_hash: str | None = None  # the hash the reviewer saw, if the client sends it


@dataclass(frozen=True)
class Outcome:
    """How a request ends when a vote completes it."""

    decision: Decision
    feedback: str | None
    final_content: Any
    edited: bool
    response_data: Any
    decided_by: list[dict[str, Any]]


@dataclass(frozen=True)
class VoteVerdict:
    """The vote is recorded; `outcome` is set when it completes the request."""

    outcome: Outcome | None
    approvals: int
    required_approvals: int = 0  # of the request, or of the stage the vote was cast in
    # On a loop with stages: the request's stages after the vote when it changed them, the stage
    # it completed (approved) and the stage that is now active (None when none is).
    stages: tuple[RequestStage, ...] | None = None
    stage_completed: int | None = None
    next_stage: int | None = None


_DECISION_OF = {Choice.reject: Decision.rejected, Choice.needs_changes: Decision.needs_changes}


def may_review(loop: Loop, voter: Principal, added: tuple[str, ...] = ()) -> bool:
    """May `voter` read the requests of `loop` (and vote, where no `Standing` says otherwise)?
    `added`: the reviewers an escalation brought to this one request."""
    if voter.link is not None:
        return False  # a review link grants one request, never a loop: see cast_vote
    if voter.role is Role.admin:
        return True
    return voter.role is Role.reviewer and (
        voter.user_id in loop.reviewers or voter.user_id in added
    )


def requester_names(request: Request) -> set[str]:
    """Every name the requester goes by, case-folded: none of them may approve."""
    theirs = (request.requested_by, request.created_by_user_id, request.created_by_key_id)
    return {n.casefold() for n in theirs if n}


def is_self_approval(request: Request, voter: Principal) -> bool:
    """The requester, under any of its names, approving what it asked for (also through a
    delegate acting for the requester)."""
    # Case-blind, because `requested_by` is free text and emails are: Ann@X.com is ann@x.com.
    mine = {
        n.casefold()
        for n in (voter.user_id, voter.user_email, voter.key_id, voter.on_behalf_of)
        if n
    }
    return bool(mine & requester_names(request))


def covered_voters(votes: list[Vote]) -> set[str]:
    """Who has voted: each voter, and each reviewer a delegate voted for."""
    covered = {v.voter_id for v in votes}
    for v in votes:
        behalf = v.voter.get("on_behalf_of")
        if isinstance(behalf, dict) and behalf.get("user_id"):
            covered.add(str(behalf["user_id"]))
    return covered


def check_seen_hash(seen: str | None) -> None:
    """A hash the client sends must be one this service makes: a typo is bad input (422), not a
    content change (409) that would send the reviewer to read the request again for nothing."""
    if seen is not None and not is_content_hash(seen):
        raise ValidationFailed.field(
            "body.content_hash", f"expected {CONTENT_HASH_FORMAT}: the content_hash you read"
        )


def cast_vote(
    request: Request,
    loop: Loop,
    votes: list[Vote],
    voter: Principal,
    ballot: Ballot,
    standing: Standing | None = None,
) -> VoteVerdict:
    """Check `ballot` against every rule and say what it does. `votes` are the valid ones so far.

    `standing` says whether the voter may decide this request (see domain/assignment.py); left
    out, any reviewer of the loop may. A delegate's `voter` carries `on_behalf_of`.
    """
    check_seen_hash(ballot.content_hash)
    if not request.is_pending:
        raise InvalidTransition(
            f"request {request.id} is {request.status.value}; a vote can no longer change it"
        )
    if voter.link is not None:
        if voter.link.request_id != request.id:
            raise Forbidden(f"this review link is not for request {request.id}")
    elif standing is None and not may_review(loop, voter, request.added_reviewers):
        raise Forbidden(f"you are not a reviewer of loop {loop.id}")
    if standing is not None and not standing.allowed:
        raise Forbidden(standing.why_not)
    if ballot.content_hash is not None and ballot.content_hash != request.content_hash:
        raise Conflict(
            "the content changed since you read it; read it again and vote on what it says now"
        )
    _check_stage(request, voter, votes)
    covered = covered_voters(votes)
    if voter.voter_id in covered:
        raise Conflict(f"you have already voted on request {request.id}")
    if voter.on_behalf_of is not None and voter.on_behalf_of in covered:
        raise Conflict(f"{voter.on_behalf_of} has already voted on request {request.id}")
    if ballot.choice is Choice.approve:
        if not loop.allow_self_approval and is_self_approval(request, voter):
            raise Forbidden(f"loop {loop.id} does not allow approving your own request")
        check_answer(request.response, ballot.response_data)
    elif not (ballot.feedback or "").strip():
        raise ValidationFailed.field(
            "body.feedback", "a rejection or a change request needs feedback"
        )
    if ballot.edited_content is not None and (
        ballot.choice is not Choice.approve or request.response.type is not ResponseType.approval
    ):
        raise ValidationFailed.field(
            "body.edited_content", "content can be edited only when approving an approval request"
        )
    if (
        ballot.edited_content is not None
        and request.content_type is not ContentType.json
        and not isinstance(ballot.edited_content, str)
    ):
        raise ValidationFailed.field(
            "body.edited_content", f"content of type {request.content_type.value} must be a string"
        )

    approving = [v for v in votes if v.choice is Choice.approve]
    # On a loop with stages only the current stage's approvals count towards its quorum.
    counted = [v for v in approving if v.stage == request.stage]
    approvals = len(counted) + (ballot.choice is Choice.approve)
    quorum = request.required_approvals
    if ballot.choice is not Choice.approve:
        decision = _DECISION_OF[ballot.choice]
        ending = Outcome(decision, ballot.feedback, request.content, False, None, [voter.actor()])
        if request.stage is None:
            return VoteVerdict(ending, approvals, quorum)
        ended = mark_stage(request.stages, request.stage, StageStatus.ended)
        return VoteVerdict(ending, approvals, quorum, stages=ended)
    if approvals < quorum:
        return VoteVerdict(None, approvals, quorum)
    if request.stage is None:
        return VoteVerdict(_approved(request, approving, voter, ballot), approvals, quorum)
    done = mark_stage(request.stages, request.stage, StageStatus.approved)
    # Later stages' conditions are read now, on the request as it is when it reaches them.
    stages, nxt = enter_next(done, request.stage, facts_of_request(request))
    outcome = None if nxt is not None else _approved(request, approving, voter, ballot)
    return VoteVerdict(outcome, approvals, quorum, stages, request.stage, nxt)


def _check_stage(request: Request, voter: Principal, votes: list[Vote]) -> None:
    """One person never counts in two stages; a stage with reviewers of its own takes only them."""
    stage = request.current_stage
    if stage is None:
        return
    earlier = next((v for v in votes if v.voter_id == voter.voter_id), None)
    if earlier is not None and earlier.stage != request.stage and earlier.stage is not None:
        name = request.stages[earlier.stage].stage.name
        raise Conflict(
            f"you already voted on request {request.id} at stage {name!r};"
            " one person never counts in two stages"
        )
    # A delegate counts as the reviewer they act for (domain/assignment.py `standing`).
    mine = {voter.user_id, voter.on_behalf_of} - {None}
    if stage.reviewers and voter.role is not Role.admin and not mine & set(stage.reviewers):
        raise Forbidden(f"you are not a reviewer of stage {stage.name!r} of request {request.id}")


def _approved(request: Request, approving: list[Vote], voter: Principal, ballot: Ballot) -> Outcome:
    # The latest edit wins: each approver saw the request, and the one who completes it had the
    # last word. Feedback from every approver is kept, in the order given.
    edits = [v.edited_content for v in approving if v.edited_content is not None]
    if ballot.edited_content is not None:
        edits.append(ballot.edited_content)
    feedbacks = [v.feedback for v in approving if v.feedback] + (
        [ballot.feedback] if ballot.feedback else []
    )
    response_data = ballot.response_data
    if response_data is None:
        response_data = next(
            (v.response_data for v in reversed(approving) if v.response_data is not None), None
        )
    return Outcome(
        decision=Decision.approved,
        feedback="\n\n".join(feedbacks) or None,
        final_content=edits[-1] if edits else request.content,
        edited=bool(edits) and edits[-1] != request.content,
        response_data=response_data,
        decided_by=[*(v.voter for v in approving), voter.actor()],
    )
