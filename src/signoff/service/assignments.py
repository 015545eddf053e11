"""Use cases for assignment and delegation: assign new requests, reassign, claim leases, away.

The rules themselves are in domain/assignment.py; this module reads what they need, writes what
they decide and records `request.assigned` events in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..domain.assignment import (
    Standing,
    acting_for,
    delegation_cycle,
    select,
    settled_standing,
    standing,
)
from ..domain.ids import new_id
from ..domain.model import (
    SYSTEM,
    Absence,
    Assignee,
    AssignmentStrategy,
    Claim,
    Loop,
    Principal,
    Request,
    Role,
    User,
    Vote,
)
from ..domain.voting import covered_voters, requester_names
from ..errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from ..store import assignments as store
from ..store import loops as loop_store
from ..store import requests as request_store
from ..store import users as user_store
from ..store.assignments import AssignedTo, Cursors
from ..store.db import Conn
from . import deciders, timeouts
from .context import Context, Tx, transaction
from .views import rfc3339, user_snapshot


def _barred(request: Request, loop: Loop, people: list[str], emails: dict[str, str]) -> set[str]:
    """Who of `people` may not act on `request`: the deactivated (absent from `emails`, which
    holds the active ones), and the requester unless the loop allows self-approval."""
    barred = {uid for uid in people if uid not in emails}
    if not loop.allow_self_approval:
        names = requester_names(request)
        barred |= {
            uid for uid, email in emails.items() if {uid.casefold(), email.casefold()} & names
        }
    return barred


def _assigned_event(
    tx: Tx,
    actor: dict[str, Any],
    request: Request,
    assignee: Assignee,
    reason: str,
    replaced: list[str] | None = None,
) -> None:
    data: dict[str, Any] = {
        "request_id": request.id,
        "loop_id": request.loop_id,
        "status": request.status.value,
        "metadata": request.metadata,
        "assignee": assignee.user_id,
        # Who acts for the assignee while they are away; null when they act themselves.
        "delegate_id": assignee.delegate_id,
        "reason": reason,
    }
    if replaced is not None:
        data["replaced"] = replaced
    # The person who will act hears of it: the delegate while the assignee is away.
    tx.record(
        "request.assigned",
        actor,
        data,
        request=request,
        notify=[assignee.delegate_id or assignee.user_id],
    )
    tx.changed_requests.add(request.id)


async def assign_new(tx: Tx, loop: Loop, created: list[Request]) -> list[Request]:
    """Give new requests to reviewers by the loop's strategy; one event per assignment.

    On a loop with stages, a request goes to the reviewers of the stage it starts in (a stage
    without reviewers of its own takes the loop's).
    """
    await deciders.stage_entered(tx.conn, created)
    if loop.assignment is AssignmentStrategy.open or not created:
        return created
    return await _assign(tx, loop, created, loop.assignment.value)


async def assign_stage(tx: Tx, loop: Loop, request: Request, voted: Collection[str]) -> Request:
    """The request entered another stage (the next, or the first again after new content):
    the assignments of the stage it left end, and it goes to the new stage's reviewers, never
    to anyone in `voted` (who voted in an earlier stage: one person never counts in two)."""
    await deciders.stage_entered(tx.conn, [request])
    if loop.assignment is AssignmentStrategy.open:
        return request
    ended = await store.end_assignments(tx.conn, request.id, None, tx.now)
    [given] = await _assign(tx, loop, [request], "stage", voted, ended)
    return given


def _asked(request: Request, reviewers: tuple[str, ...]) -> tuple[str, ...]:
    """Who may be given `request`: its current stage's reviewers, else the loop's."""
    stage = request.current_stage
    return stage.reviewers if stage is not None and stage.reviewers else reviewers


async def _assign(
    tx: Tx,
    loop: Loop,
    requests: list[Request],
    reason: str,
    voted: Collection[str] = (),
    replaced: list[str] | None = None,
) -> list[Request]:
    """The loop's row is locked first, so concurrent creates on any replica take turns: each
    reads the cursors and the loads the one before it left. Round robin keeps one cursor per
    stage (a stage takes turns among its own reviewers) and one for a loop without stages."""
    cursors = await store.lock_cursor(tx.conn, loop.id)
    turns: dict[str | None, int] = {None: cursors.loop}
    turns.update(cursors.stages)
    with_reviewers = await loop_store.get_loop(tx.conn, loop.id)
    reviewers = with_reviewers.reviewers if with_reviewers else ()
    asked = {r.id: _asked(r, reviewers) for r in requests}
    absences = await store.current_absences(tx.conn, tx.now)
    people = list(
        {
            *reviewers,
            *(u for names in asked.values() for u in names),
            *(a.delegate_id for a in absences.values() if a.delegate_id),
        }
    )
    emails = await user_store.active_emails(tx.conn, people)
    loads: dict[str, int] = {}
    if loop.assignment is AssignmentStrategy.least_loaded:
        loads = await store.pending_loads(tx.conn, people)
    rows: list[dict[str, Any]] = []
    answered: list[Request] = []
    for request in requests:
        stage = request.current_stage.name if request.current_stage is not None else None
        chosen = select(
            loop.assignment,
            asked[request.id],
            count=request.required_approvals,
            cursor=turns.get(stage, 0),
            loads=loads,
            absences=absences,
            barred=_barred(request, loop, people, emails) | set(voted),
            now=tx.now,
        )
        turns[stage] = chosen.cursor
        assignees = tuple(Assignee(p.user_id, p.delegate_id, tx.now) for p in chosen.picks)
        for pick in chosen.picks:
            loads[pick.acting_id] = loads.get(pick.acting_id, 0) + 1
            rows.append(_row(request.id, pick.user_id, pick.delegate_id, tx.now))
        answered.append(replace(request, assignees=assignees))
    # A stage the loop no longer has keeps no cursor (unless a request still stands in it).
    kept = {s.name for s in loop.stages} | {
        r.current_stage.name for r in requests if r.current_stage
    }
    stage_turns = {n: c for n, c in turns.items() if n is not None and n in kept}
    await store.set_cursor(tx.conn, loop.id, Cursors(turns[None], stage_turns))
    await store.insert_assignments(tx.conn, rows)
    for request in answered:
        for assignee in request.assignees:
            _assigned_event(tx, SYSTEM.actor(), request, assignee, reason, replaced)
    return answered


def _row(request_id: str, user_id: str, delegate_id: str | None, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id("asg", now),
        "request_id": request_id,
        "user_id": user_id,
        "delegate_id": delegate_id,
        "assigned_at": now,
    }


async def with_assignment(conn: Conn, requests: list[Request], now: datetime) -> list[Request]:
    """The requests with their current assignees (the delegate shown is whoever acts for them
    now) and, while pending, their live claim."""
    ids = [r.id for r in requests]
    assignees = await store.current_assignees(conn, ids)
    claims = await store.get_claims(conn, ids)
    absences = await store.current_absences(conn, now) if any(assignees.values()) else {}
    out = []
    for r in requests:
        shown = tuple(_acting_now(a, absences, now) for a in assignees[r.id])
        claim = claims.get(r.id)
        live = claim if claim and r.is_pending and claim.until > now else None
        out.append(replace(r, assignees=shown, claim=live))
    return out


def _acting_now(assignee: Assignee, absences: dict[str, Absence], now: datetime) -> Assignee:
    if assignee.delegate_id is not None:
        return assignee
    acting = acting_for(assignee.user_id, absences, now)
    delegate = acting if acting not in (None, assignee.user_id) else None
    return replace(assignee, delegate_id=delegate)


async def standing_on(
    conn: Conn,
    request: Request,
    loop: Loop,
    actor: Principal,
    now: datetime,
    votes: list[Vote] | None = None,
) -> Standing:
    """May `actor` decide `request`, and for whom (domain/assignment.py `standing`).

    `votes`: the request's live votes when the caller has read them already (the vote path).
    Only what the answer depends on is read: nothing more for a reviewer of an open loop, and
    the votes only when someone is assigned (they say whom a delegate still acts for)."""
    user = actor.user_id if actor.role in (Role.reviewer, Role.admin) else None
    settled = settled_standing(
        user,
        strategy=loop.assignment,
        loop_reviewers=loop.reviewers,
        stage=request.current_stage,
    )
    if settled is not None:
        return settled
    assignees = (await store.current_assignees(conn, [request.id]))[request.id]
    absences: dict[str, Absence] = {}
    if assignees:
        absences = await store.current_absences(conn, now)
        if votes is None:
            votes = await request_store.live_votes(conn, request.id)
    return standing(
        user,
        is_admin=actor.role is Role.admin,
        strategy=loop.assignment,
        loop_reviewers=loop.reviewers,
        assignees=assignees,
        absences=absences,
        covered=covered_voters(votes or []),
        now=now,
        added=request.added_reviewers,
        stage=request.current_stage,
    )


async def acting_as(conn: Conn, user_id: str, now: datetime) -> AssignedTo:
    """What `user_id` has on their plate: their own assignments, those naming them delegate,
    and those of everyone they stand in for now."""
    return AssignedTo((user_id, *await deciders.stands_in_for(conn, user_id, now)), user_id)


async def _pending(conn: Conn, request_id: str) -> tuple[Request, Loop]:
    request = await request_store.get_request(conn, request_id, for_update=True)
    if request is None:
        raise NotFound(f"no request with id {request_id!r}")
    if not request.is_pending:
        raise InvalidTransition(
            f"request {request_id} is {request.status.value}; only a pending request can change"
        )
    loop = await loop_store.get_loop(conn, request.loop_id)
    if loop is None:
        raise NotFound(f"the loop of request {request_id} no longer exists")
    return request, loop


async def _answer(tx: Tx, request_id: str) -> Request:
    request = await request_store.get_request(tx.conn, request_id)
    assert request is not None
    [answered] = await with_assignment(tx.conn, [request], tx.now)
    return answered


async def claim(ctx: Context, actor: Principal, request_id: str) -> Request:
    """Take (or extend) the claim lease on a request: others see who is deciding it."""
    async with transaction(ctx) as tx:
        request, loop = await _pending(tx.conn, request_id)
        verdict = await standing_on(tx.conn, request, loop, actor, tx.now)
        if not verdict.allowed:
            raise Forbidden(verdict.why_not)
        held = (await store.get_claims(tx.conn, [request_id])).get(request_id)
        if held and held.until > tx.now and held.claimed_by != actor.voter_id:
            raise Conflict(
                f"request {request_id} is claimed by {held.claimed_by} until {rfc3339(held.until)}"
            )
        until = tx.now + timedelta(seconds=ctx.limits.claim_lease_seconds)
        await store.put_claim(tx.conn, request_id, Claim(actor.voter_id, tx.now, until))
        await timeouts.picked_up(tx, request)  # someone has it in hand: the pickup clock stops
        tx.changed_requests.add(request_id)
        return await _answer(tx, request_id)


async def release(ctx: Context, actor: Principal, request_id: str) -> Request:
    """Give up a claim: your own, or anyone's if you are an admin. Releasing none is fine."""
    async with transaction(ctx) as tx:
        request = await request_store.get_request(tx.conn, request_id, for_update=True)
        if request is None:
            raise NotFound(f"no request with id {request_id!r}")
        held = (await store.get_claims(tx.conn, [request_id])).get(request_id)
        if held and held.until > tx.now and held.claimed_by != actor.voter_id:
            if actor.role is not Role.admin:
                raise Conflict(
                    f"request {request_id} is claimed by {held.claimed_by}; only they or an "
                    "admin can release it"
                )
        if held:
            await store.delete_claim(tx.conn, request_id)
            tx.changed_requests.add(request_id)
        return await _answer(tx, request_id)


async def release_after_vote(conn: Conn, request_id: str, voter_id: str, completed: bool) -> None:
    """A vote ends the voter's claim; a decision ends any claim."""
    await store.delete_claim(conn, request_id, None if completed else voter_id)


async def reassign(
    ctx: Context, actor: Principal, request_id: str, user_id: str, replaces: str | None
) -> Request:
    """An admin gives a pending request to `user_id`, instead of `replaces` (one assignee) or,
    when that is left out, instead of every current assignee."""
    async with transaction(ctx) as tx:
        request, loop = await _pending(tx.conn, request_id)
        user = await user_store.get_user(tx.conn, user_id)
        if user is None or not user.active:
            raise ValidationFailed.field("body.user_id", f"no active user with id {user_id!r}")
        current = (await store.current_assignees(tx.conn, [request_id]))[request_id]
        if replaces is not None and all(a.user_id != replaces for a in current):
            raise ValidationFailed.field(
                "body.replaces", f"{replaces} is not an assignee of request {request_id}"
            )
        if any(a.user_id == user_id for a in current) and replaces != user_id:
            raise Conflict(f"request {request_id} is already assigned to {user_id}")
        stage = request.current_stage
        if stage is not None and stage.reviewers and user_id not in stage.reviewers:
            # They could not decide it (a stage with reviewers of its own takes only them), and
            # nobody else of the loop could either: the request would wait for an admin.
            raise ValidationFailed.field(
                "body.user_id",
                f"{user_id} is not a reviewer of stage {stage.name!r}, the request's current stage",
            )
        absences = await store.current_absences(tx.conn, tx.now)
        acting = acting_for(user_id, absences, tx.now) or user_id
        people = list({user_id, acting})
        barred = _barred(request, loop, people, await user_store.active_emails(tx.conn, people))
        if user_id in barred:
            raise ValidationFailed.field(
                "body.user_id", f"{user_id} asked for this request and may not approve it"
            )
        if acting in barred:
            raise ValidationFailed.field(
                "body.user_id",
                f"{user_id} is away and their delegate {acting} asked for this request "
                "or is deactivated",
            )
        replaced = await store.end_assignments(
            tx.conn, request_id, None if replaces is None else [replaces], tx.now
        )
        delegate = acting if acting != user_id else None
        await store.insert_assignments(tx.conn, [_row(request_id, user_id, delegate, tx.now)])
        assignee = Assignee(user_id, delegate, tx.now)
        _assigned_event(tx, actor.actor(), request, assignee, "reassigned", replaced)
        return await _answer(tx, request_id)


@dataclass(frozen=True)
class Away:
    """A period away, as a reviewer or an admin sets it."""

    away_from: datetime | None = None  # None: from now
    away_until: datetime | None = None  # None: until cleared
    delegate_id: str | None = None


def _may_manage(actor: Principal, user_id: str) -> None:
    if actor.role is Role.admin or (actor.role is Role.reviewer and actor.user_id == user_id):
        return
    raise Forbidden("only an admin or the reviewer themselves can set when they are away")


async def set_away(ctx: Context, actor: Principal, user_id: str, away: Away) -> User:
    _may_manage(actor, user_id)
    async with transaction(ctx) as tx:
        if await user_store.get_user(tx.conn, user_id) is None:
            raise NotFound(f"no user with id {user_id!r}")
        start = away.away_from or tx.now
        if away.away_until is not None and away.away_until <= max(start, tx.now):
            raise ValidationFailed.field(
                "body.away_until", "must be after away_from and in the future"
            )
        if away.delegate_id is not None:
            await _check_delegate(tx, user_id, away.delegate_id)
        absence = Absence(user_id, start, away.away_until, away.delegate_id)
        await store.put_absence(tx.conn, absence, tx.now)
        return await _user_changed(tx, actor, user_id)


async def _check_delegate(tx: Tx, user_id: str, delegate_id: str) -> None:
    if delegate_id == user_id:
        raise ValidationFailed.field("body.delegate_id", "a reviewer cannot delegate to themselves")
    delegate = await user_store.get_user(tx.conn, delegate_id)
    if delegate is None or not delegate.active:
        raise ValidationFailed.field("body.delegate_id", f"no active user with id {delegate_id!r}")
    others = await store.current_absences(tx.conn, tx.now)
    delegates = {u: a.delegate_id for u, a in others.items() if a.delegate_id and u != user_id}
    cycle = delegation_cycle(user_id, delegate_id, delegates)
    if cycle:
        raise ValidationFailed.field(
            "body.delegate_id", f"would make a delegation cycle: {' → '.join(cycle)}"
        )


async def clear_away(ctx: Context, actor: Principal, user_id: str) -> User:
    _may_manage(actor, user_id)
    async with transaction(ctx) as tx:
        if await user_store.get_user(tx.conn, user_id) is None:
            raise NotFound(f"no user with id {user_id!r}")
        await store.delete_absence(tx.conn, user_id)
        return await _user_changed(tx, actor, user_id)


async def _user_changed(tx: Tx, actor: Principal, user_id: str) -> User:
    user = await user_store.get_user(tx.conn, user_id)
    assert user is not None
    away = user.away
    tx.record(
        "user.updated",
        actor.actor(),
        {
            **user_snapshot(user),
            "changed": ["away"],
            "away": None
            if away is None
            else {
                "away_from": rfc3339(away.away_from),
                "away_until": rfc3339(away.away_until),
                "delegate_id": away.delegate_id,
            },
        },
    )
    return user
