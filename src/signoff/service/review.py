"""What a reviewer reads and does in the web app: the inbox, a request with everything around
it, votes on several requests at once. Votes go through `votes.vote`, the one decision path."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..domain.model import Event, Loop, Principal, Priority, Request, Role, User, Vote
from ..domain.voting import Ballot
from ..errors import NotFound, SignoffError, ValidationFailed
from ..store import events as event_store
from ..store import inbox as store
from ..store import loops as loop_store
from ..store import requests as request_store
from ..store import users as user_store
from ..store.db import Conn
from ..store.deciders import Decider
from . import assignments, deciders
from .context import Context
from .requests import _load, check_can_read
from .votes import vote

MAX_ROUNDS = 20  # earlier rounds shown with a revision


@dataclass(frozen=True)
class InboxFilter:
    loop_id: str | None = None
    priority: Priority | None = None
    text: str | None = None


@dataclass(frozen=True)
class Inbox:
    requests: list[store.InboxItem]
    next_key: tuple[Priority, str] | None  # where the next page starts
    # The loops this reviewer reviews, and those of any other request they may decide (as a
    # delegate, or brought in by an escalation), by id.
    loops: dict[str, Loop]
    counts: dict[str, int]  # what the inbox holds per loop, filters aside
    seq: int  # the event log's head when read: live updates start after it


@dataclass(frozen=True)
class _Reader:
    """Who reads an inbox, as the queries need them."""

    loops: dict[str, Loop]  # the loops they review (an admin: every loop)
    decider: Decider | None  # None: an admin, who may decide every request


async def _reader(conn: Conn, actor: Principal, now: datetime) -> _Reader:
    if actor.role is Role.admin:
        found = await loop_store.list_loops(conn, None, 10_000)
        return _Reader({lp.id: lp for lp in found}, None)
    if actor.role is not Role.reviewer or not actor.user_id:
        return _Reader({}, Decider("", (), (), ()))  # decides nothing
    found = await deciders.reviewers_loops(conn, actor.user_id)
    return _Reader({lp.id: lp for lp in found}, await deciders.decider(conn, actor, found, now))


def _query(actor: Principal, reader: _Reader, where: InboxFilter) -> store.InboxQuery:
    return store.InboxQuery(
        reader.decider, actor.voter_id, where.loop_id, where.priority, (where.text or "").strip()
    )


async def inbox(
    ctx: Context,
    actor: Principal,
    where: InboxFilter,
    after: tuple[Priority, str] | None,
    limit: int,
) -> Inbox:
    """One page of the pending requests `actor` may decide and has not voted on yet."""
    async with ctx.db.read() as conn:
        seq = await store.latest_seq(conn)
        reader = await _reader(conn, actor, ctx.clock())
        query = _query(actor, reader, where)
        found = await store.pending_page(conn, query, after, limit + 1)
        counts = await store.pending_counts(conn, _query(actor, reader, InboxFilter()))
        loops = reader.loops
        others = set(counts) - set(loops)
        if others:
            loops = {**loops, **await loop_store.loops_by_id(conn, others)}
    page = found[:limit]
    next_key = (page[-1].priority, page[-1].id) if len(found) > limit else None
    return Inbox(page, next_key, loops, counts, seq)


async def next_in_queue(
    ctx: Context, actor: Principal, where: InboxFilter, after: Request | None
) -> str | None:
    """The request a review session shows after `after`: the next in inbox order, else the
    first one left (the queue may have changed while the reviewer read)."""
    async with ctx.db.read() as conn:
        query = _query(actor, await _reader(conn, actor, ctx.clock()), where)
        key = (after.priority, after.id) if after else None
        found = await store.pending_page(conn, query, key, 1)
        if not found and key is not None:
            found = await store.pending_page(conn, query, None, 1)
    return found[0].id if found else None


async def inbox_changes(ctx: Context, actor: Principal, batch: list[Event]) -> list[Event]:
    """The events of `batch` that may change what `actor`'s inbox shows: every change of who
    is away (delegation); one that names them or someone they act for (an assignment, an
    escalation, a vote cast by or for them); and, but for votes, one about a request of a loop
    they review (or one it left), or one they may decide or could when it left `pending`."""
    if actor.role is Role.admin:
        return batch
    async with ctx.db.read() as conn:
        reader = await _reader(conn, actor, ctx.clock())
        assert reader.decider is not None
        ids = {
            e.request_id
            for e in batch
            if e.request_id and e.type != "request.vote" and e.loop_id not in reader.loops
        }
        theirs = await deciders.concerning(conn, reader.decider, ids) if ids else set()
    names = {actor.user_id, *reader.decider.stands_for} - {None}

    def changes(e: Event) -> bool:
        if e.type == "user.updated":
            return "away" in e.data.get("changed", ())
        if names & _named(e):
            return True
        if e.type == "request.vote":  # another's vote: what it ends or moves has its own event
            return False
        return (
            e.loop_id in reader.loops
            or e.data.get("from_loop_id") in reader.loops
            or e.request_id in theirs
        )

    return [e for e in batch if changes(e)]


def _named(event: Event) -> set[str]:
    """The people an event about a request names: assignees, whom they replace, those an
    escalation added, a voter and whom they voted for."""
    data = event.data
    voter = data.get("voter") or {}
    behalf = voter.get("on_behalf_of") or {}
    found = [
        data.get("assignee"),
        data.get("delegate_id"),
        *(data.get("replaced") or ()),
        *(data.get("added_reviewers") or ()),
        voter.get("user_id"),
        behalf.get("user_id"),
    ]
    return {str(n) for n in found if n}


@dataclass(frozen=True)
class Review:
    """A request and everything a reviewer needs to decide it."""

    request: Request
    loop: Loop
    votes: list[Vote]  # every vote, voided ones too
    events: list[Event]
    rounds: list[Request]  # earlier rounds of a revision, oldest first
    later: list[str]  # ids of revisions made of this request
    # Who holds the claim lease now, when it is someone other than the reader (issue 5: the
    # first to open a request for deciding claims it, and others see it).
    claimed_by: User | None = None

    def my_vote(self, actor: Principal) -> Vote | None:
        live = [v for v in self.votes if v.voided_at is None]
        return next((v for v in live if v.voter_id == actor.voter_id), None)

    @property
    def approvals(self) -> int:
        return approvals(self.votes)


def approvals(votes: list[Vote]) -> int:
    """The approvals that count: the ones not voided by a change of content."""
    return sum(1 for v in votes if v.voided_at is None and v.choice.value == "approve")


async def review(ctx: Context, actor: Principal, request_id: str) -> Review:
    async with ctx.db.read() as conn:
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request, ctx.clock())
        loop = await loop_store.get_loop(conn, request.loop_id)
        if loop is None:
            raise NotFound(f"the loop of request {request_id} no longer exists")
        rounds: list[Request] = []
        previous = request.previous_request_id
        while previous and len(rounds) < MAX_ROUNDS:
            earlier = await request_store.get_request(conn, previous)
            if earlier is None:
                break
            rounds.insert(0, earlier)
            previous = earlier.previous_request_id
        now = ctx.clock()
        [request] = await assignments.with_assignment(conn, [request], now)
        claim = request.claim
        holder = None
        if claim is not None and claim.until > now and claim.claimed_by != actor.voter_id:
            holder = (await user_store.users_by_id(conn, [claim.claimed_by])).get(claim.claimed_by)
        return Review(
            claimed_by=holder,
            request=request,
            loop=loop,
            votes=await request_store.all_votes(conn, request_id),
            events=await event_store.list_request_events(conn, request_id),
            rounds=rounds,
            later=await store.revisions_of(conn, request_id),
        )


async def standing(ctx: Context, actor: Principal, request_id: str) -> tuple[Request, list[Vote]]:
    """The request and every vote on it, read together: what an open review page keeps live."""
    async with ctx.db.read() as conn:
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request, ctx.clock())
        return request, await request_store.all_votes(conn, request_id)


async def get_state(ctx: Context, actor: Principal, request_id: str) -> Request:
    async with ctx.db.read() as conn:
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request, ctx.clock())
    return request


@dataclass(frozen=True)
class BatchResult:
    request_id: str
    ok: bool
    message: str
    title: str | None = None


async def vote_on_each(
    ctx: Context, voter: Principal, selected: list[tuple[str, str | None]], ballot: Ballot
) -> list[BatchResult]:
    """The same ballot on each (request id, content hash the reviewer saw), each its own vote
    and transaction; every request gets a result, the ones that could not be decided with the
    reason. A vote is bound to the content its row showed, as on the review page."""
    results: list[BatchResult] = []
    for request_id, seen in dict(selected).items():
        if seen is None:
            results.append(
                BatchResult(
                    request_id, False, "select it again from the inbox: it names no content"
                )
            )
            continue
        try:
            request, verdict, _ = await vote(
                ctx, voter, request_id, replace(ballot, content_hash=seen)
            )
        except SignoffError as exc:
            why = _batch_refusal(exc) if isinstance(exc, ValidationFailed) else exc.detail
            results.append(
                BatchResult(request_id, False, why, await _title(ctx, voter, request_id))
            )
            continue
        if request.decision is not None:
            message = f"{request.decision.value.replace('_', ' ')}"
        else:
            message = f"vote recorded: {verdict.approvals} of {request.required_approvals}"
        results.append(BatchResult(request_id, True, message, request.title))
    return results


async def _title(ctx: Context, actor: Principal, request_id: str) -> str | None:
    """The title of a request the batch could not decide, if `actor` may read it."""
    try:
        return (await get_state(ctx, actor, request_id)).title
    except SignoffError:
        return None


def _batch_refusal(exc: ValidationFailed) -> str:
    """Why one request of a batch was not decided, said to the person who chose the batch."""
    if any(e.field.startswith("body.response_data") for e in exc.errors):
        return "it asks for an answer (a choice, a text or a form): open it to answer"
    return "; ".join(e.message for e in exc.errors) or exc.detail
