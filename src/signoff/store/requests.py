"""Review requests and their votes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from ..domain.model import (
    Callback,
    Choice,
    ContentType,
    Decision,
    Priority,
    Request,
    Status,
    TimeoutAction,
    Vote,
)
from ..domain.responses import spec_from_json
from ..domain.rules import request_stages_from_json
from ._rows import utc, utc_or_none
from .assignments import AssignedTo, assigned_to
from .db import Conn
from .deciders import added_to
from .tables import loops, requests, votes

# Every column but the callback's credentials: nothing that answers a caller reads those.
_PUBLIC = [c for c in requests.c if c.name != "callback_auth"]


def _request(row: Any) -> Request:
    callback = None
    if row.callback:
        cb = row.callback
        events = cb.get("events")
        callback = Callback(cb["url"], tuple(events) if events else None, cb.get("auth_strategy"))
    return Request(
        id=row.id,
        loop_id=row.loop_id,
        status=Status(row.status),
        decision=Decision(row.decision) if row.decision else None,
        title=row.title,
        content=row.content,
        content_type=ContentType(row.content_type),
        content_hash=row.content_hash,
        context=row.context,
        metadata=row.metadata,
        ai_analysis=row.ai_analysis,
        response=spec_from_json(row.response_spec),
        priority=Priority(row.priority),
        required_approvals=row.required_approvals,
        requested_by=row.requested_by,
        created_by_key_id=row.created_by_key_id,
        created_by_user_id=row.created_by_user_id,
        timeout_seconds=row.timeout_seconds,
        timeout_action=TimeoutAction(row.timeout_action),
        deadline_at=utc_or_none(row.deadline_at),
        callback=callback,
        previous_request_id=row.previous_request_id,
        feedback=row.feedback,
        final_content=row.final_content,
        edited=row.edited,
        response_data=row.response_data,
        decided_by=row.decided_by,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        completed_at=utc_or_none(row.completed_at),
        picked_up_at=utc_or_none(row.picked_up_at),
        pickup_deadline_at=utc_or_none(row.pickup_deadline_at),
        escalation_level=row.escalation_level or 0,
        added_reviewers=tuple(row.added_reviewers or ()),
        stages=request_stages_from_json(row.stages),
        stage=row.stage,
        stage_started_at=utc_or_none(row.stage_started_at),
    )


def _vote(row: Any) -> Vote:
    return Vote(
        id=row.id,
        request_id=row.request_id,
        voter_id=row.voter_id,
        voter=row.voter,
        choice=Choice(row.choice),
        feedback=row.feedback,
        edited_content=row.edited_content,
        response_data=row.response_data,
        content_hash=row.content_hash,
        created_at=utc(row.created_at),
        voided_at=utc_or_none(row.voided_at),
        stage=row.stage,
    )


async def insert_requests(conn: Conn, rows: list[dict[str, Any]]) -> list[Request]:
    """Write new requests; answers them as written (no second read)."""
    await conn.execute(requests.insert(), rows)
    unset = {c.name: None for c in requests.c}
    return [_request(SimpleNamespace(**{**unset, **row})) for row in rows]


async def get_request(conn: Conn, request_id: str, *, for_update: bool = False) -> Request | None:
    query = sa.select(*_PUBLIC).where(requests.c.id == request_id)
    if for_update:
        query = query.with_for_update()  # a no-op on SQLite, whose writer already holds the lock
    row = (await conn.execute(query)).first()
    return _request(row) if row else None


async def get_requests(conn: Conn, ids: list[str]) -> list[Request]:
    """These requests, in the order of `ids`."""
    rows = await conn.execute(sa.select(*_PUBLIC).where(requests.c.id.in_(ids)))
    found = {r.id: _request(r) for r in rows}
    return [found[i] for i in ids]


async def lock_requests(conn: Conn, ids: list[str]) -> dict[str, Request]:
    """These requests by id, locked until the transaction ends (in id order: two lockers of
    overlapping sets never wait on each other in a circle)."""
    query = (
        sa.select(*_PUBLIC).where(requests.c.id.in_(ids)).order_by(requests.c.id).with_for_update()
    )
    return {r.id: _request(r) for r in await conn.execute(query)}


async def existing_request_ids(conn: Conn, ids: set[str]) -> set[str]:
    rows = await conn.execute(sa.select(requests.c.id).where(requests.c.id.in_(ids)))
    return {r.id for r in rows}


@dataclass(frozen=True)
class Visible:
    """What a reviewer may see: the requests of their loops, those assigned to them (or to
    someone they act for) and those an escalation added them to. Every request they may decide
    is among these (store/deciders.py)."""

    user_id: str
    loop_ids: list[str]
    assigned: AssignedTo


@dataclass(frozen=True)
class RequestFilter:
    loop_ids: list[str] | None = None  # None: every loop
    status: Status | None = None
    priority: str | None = None
    # `created_after` (inclusive) and `created_before` (exclusive), in UTC, and the id bounds
    # around them that keep the query an index range scan (domain.ids.id_range).
    created_after: datetime | None = None
    created_before: datetime | None = None
    min_id: str | None = None
    max_id: str | None = None
    visible: Visible | None = None  # None: everything
    assigned: AssignedTo | None = None  # only requests assigned to these


async def list_requests(
    conn: Conn, where: RequestFilter, before: str | None, limit: int
) -> list[Request]:
    """Newest first, `limit` at most, ids below `before`: one index range scan, however deep."""
    query = sa.select(*_PUBLIC).order_by(requests.c.id.desc()).limit(limit)
    if where.loop_ids is not None:
        query = query.where(requests.c.loop_id.in_(where.loop_ids))
    if where.status:
        query = query.where(requests.c.status == where.status.value)
    if where.priority:
        query = query.where(requests.c.priority == where.priority)
    if where.min_id:
        query = query.where(requests.c.id >= where.min_id)
    if where.max_id:
        query = query.where(requests.c.id < where.max_id)
    if where.created_after:
        query = query.where(requests.c.created_at >= where.created_after)
    if where.created_before:
        query = query.where(requests.c.created_at < where.created_before)
    if before:
        query = query.where(requests.c.id < before)
    if where.visible is not None:
        query = query.where(
            sa.or_(
                requests.c.loop_id.in_(where.visible.loop_ids),
                assigned_to(where.visible.assigned),
                added_to(where.visible.user_id),
            )
        )
    if where.assigned is not None:
        query = query.where(assigned_to(where.assigned))
    return [_request(r) for r in await conn.execute(query)]


async def update_pending(conn: Conn, request_id: str, values: dict[str, Any]) -> bool:
    """Change a request only if it is still pending; False means someone else moved it first."""
    result = await conn.execute(
        requests.update()
        .where(requests.c.id == request_id, requests.c.status == Status.pending.value)
        .values(**values)
    )
    return result.rowcount == 1


async def leave_pending_many(conn: Conn, changes: list[tuple[str, dict[str, Any]]]) -> int:
    """`update_pending` for many requests at once: (request id, values) pairs; rows that set
    the same columns go as one executemany. Answers how many rows changed (all of them, unless
    someone else moved one first)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for request_id, values in changes:
        row = {f"new_{name}": value for name, value in values.items()}
        shapes.setdefault(tuple(sorted(values)), []).append({"request_id": request_id, **row})
    moved = 0
    for names, rows in shapes.items():
        statement = (
            requests.update()
            .where(
                requests.c.id == sa.bindparam("request_id"),
                requests.c.status == Status.pending.value,
            )
            .values(**{name: sa.bindparam(f"new_{name}") for name in names})
        )
        moved += (await conn.execute(statement, rows)).rowcount
    return moved


async def live_votes(conn: Conn, request_id: str) -> list[Vote]:
    rows = await conn.execute(
        sa.select(votes)
        .where(votes.c.request_id == request_id, votes.c.voided_at.is_(None))
        .order_by(votes.c.id)
    )
    return [_vote(r) for r in rows]


async def all_votes(conn: Conn, request_id: str) -> list[Vote]:
    rows = await conn.execute(
        sa.select(votes).where(votes.c.request_id == request_id).order_by(votes.c.id)
    )
    return [_vote(r) for r in rows]


async def insert_vote(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(votes.insert().values(**values))


async def void_votes(conn: Conn, request_id: str, now: datetime) -> int:
    result = await conn.execute(
        votes.update()
        .where(votes.c.request_id == request_id, votes.c.voided_at.is_(None))
        .values(voided_at=now)
    )
    return result.rowcount


async def list_decided(
    conn: Conn, loop_id: str | None, since: datetime | None, after: str | None, limit: int
) -> list[tuple[Request, str]]:
    """Completed requests (they carry a decision) with their loop's name, oldest first, ids
    above `after`; `since` bounds their completion time. For exports, a page at a time."""
    query = (
        sa.select(*_PUBLIC, loops.c.name.label("loop_name"))
        .join(loops, loops.c.id == requests.c.loop_id)
        .where(requests.c.status == Status.completed.value)
        .order_by(requests.c.id)
        .limit(limit)
    )
    if loop_id:
        query = query.where(requests.c.loop_id == loop_id)
    if since:
        query = query.where(requests.c.completed_at >= since)
    if after:
        query = query.where(requests.c.id > after)
    return [(_request(r), r.loop_name) for r in await conn.execute(query)]


async def live_votes_of(conn: Conn, request_ids: list[str]) -> dict[str, list[Vote]]:
    """The votes that count (not voided) of each request, in the order they were cast."""
    found: dict[str, list[Vote]] = {i: [] for i in request_ids}
    if request_ids:
        rows = await conn.execute(
            sa.select(votes)
            .where(votes.c.request_id.in_(request_ids), votes.c.voided_at.is_(None))
            .order_by(votes.c.id)
        )
        for row in rows:
            found[row.request_id].append(_vote(row))
    return found
