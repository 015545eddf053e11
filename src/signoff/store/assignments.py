"""Assignments, claim leases and absences (see domain/assignment.py for what they mean)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.model import Absence, Assignee, Claim, Status
from ._rows import utc, utc_or_none
from .db import Conn
from .tables import absences, assignments, loops, request_claims, requests

_CURRENT = assignments.c.ended_at.is_(None)


@dataclass(frozen=True)
class Cursors:
    """Where round robin goes on in a loop: the loop's own turn (a loop without stages) and
    each stage's, by stage name: a stage takes turns among its own reviewers."""

    loop: int
    stages: dict[str, int]


async def lock_cursor(conn: Conn, loop_id: str) -> Cursors:
    """The loop's round robin cursors, its row locked until the transaction ends (PostgreSQL;
    SQLite's single writer serializes already): concurrent creates take turns here.

    FOR NO KEY UPDATE, not FOR UPDATE: the transaction has already inserted requests, whose
    foreign key holds a KEY SHARE lock on this row in every concurrent create, and FOR UPDATE
    would wait on those (a deadlock between any two creates)."""
    query = (
        sa.select(loops.c.assignment_cursor, loops.c.stage_cursors)
        .where(loops.c.id == loop_id)
        .with_for_update(key_share=True)
    )
    row = (await conn.execute(query)).one()
    return Cursors(int(row.assignment_cursor), dict(row.stage_cursors or {}))


async def set_cursor(conn: Conn, loop_id: str, cursors: Cursors) -> None:
    await conn.execute(
        loops.update()
        .where(loops.c.id == loop_id)
        .values(assignment_cursor=cursors.loop, stage_cursors=cursors.stages or None)
    )


async def pending_loads(conn: Conn, user_ids: list[str]) -> dict[str, int]:
    """Current assignments on pending requests, counted by who acts (the delegate, if any)."""
    acting = sa.func.coalesce(assignments.c.delegate_id, assignments.c.user_id)
    query = (
        sa.select(acting.label("acting"), sa.func.count().label("n"))
        .select_from(assignments.join(requests, requests.c.id == assignments.c.request_id))
        .where(
            _CURRENT,
            requests.c.status == Status.pending.value,
            # Spelled out so that the indexes on user_id and delegate_id can serve it.
            sa.or_(assignments.c.user_id.in_(user_ids), assignments.c.delegate_id.in_(user_ids)),
            acting.in_(user_ids),
        )
        .group_by(acting)
    )
    return {r.acting: int(r.n) for r in await conn.execute(query)}


async def insert_assignments(conn: Conn, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(assignments.insert(), rows)


async def end_assignments(
    conn: Conn, request_id: str, user_ids: Iterable[str] | None, now: datetime
) -> list[str]:
    """End the current assignments of a request (of these users only, if given); answers whose."""
    where = [assignments.c.request_id == request_id, _CURRENT]
    if user_ids is not None:
        where.append(assignments.c.user_id.in_(list(user_ids)))
    ended = [r.user_id for r in await conn.execute(sa.select(assignments.c.user_id).where(*where))]
    if ended:
        await conn.execute(assignments.update().where(*where).values(ended_at=now))
    return ended


async def current_assignees(conn: Conn, request_ids: list[str]) -> dict[str, list[Assignee]]:
    """Each request's current assignees, in the order they were assigned."""
    found: dict[str, list[Assignee]] = {i: [] for i in request_ids}
    if request_ids:
        query = (
            sa.select(assignments)
            .where(assignments.c.request_id.in_(request_ids), _CURRENT)
            .order_by(assignments.c.id)
        )
        for r in await conn.execute(query):
            found[r.request_id].append(Assignee(r.user_id, r.delegate_id, utc(r.assigned_at)))
    return found


@dataclass(frozen=True)
class AssignedTo:
    """Requests assigned to any of `users`, or whose assignment named `delegate` to act."""

    users: tuple[str, ...]
    delegate: str


def assigned_to(who: AssignedTo) -> sa.ColumnElement[bool]:
    """A condition on `requests`: it has a current assignment to `who`."""
    mine = sa.select(assignments.c.request_id).where(
        _CURRENT,
        sa.or_(assignments.c.user_id.in_(who.users), assignments.c.delegate_id == who.delegate),
    )
    return requests.c.id.in_(mine)


def _claim(row: Any) -> Claim:
    return Claim(row.claimed_by, utc(row.claimed_at), utc(row.until))


async def get_claims(conn: Conn, request_ids: list[str]) -> dict[str, Claim]:
    """Claims on these requests, expired ones included (the caller compares with its clock)."""
    if not request_ids:
        return {}
    query = sa.select(request_claims).where(request_claims.c.request_id.in_(request_ids))
    return {r.request_id: _claim(r) for r in await conn.execute(query)}


async def put_claim(conn: Conn, claim_on: str, claim: Claim) -> None:
    await conn.execute(request_claims.delete().where(request_claims.c.request_id == claim_on))
    await conn.execute(
        request_claims.insert().values(
            request_id=claim_on,
            claimed_by=claim.claimed_by,
            claimed_at=claim.claimed_at,
            until=claim.until,
        )
    )


async def delete_claim(conn: Conn, request_id: str, claimed_by: str | None = None) -> bool:
    where = [request_claims.c.request_id == request_id]
    if claimed_by is not None:
        where.append(request_claims.c.claimed_by == claimed_by)
    result = await conn.execute(request_claims.delete().where(*where))
    return result.rowcount > 0


def _absence(row: Any) -> Absence:
    return Absence(row.user_id, utc(row.away_from), utc_or_none(row.away_until), row.delegate_id)


async def current_absences(conn: Conn, now: datetime) -> dict[str, Absence]:
    """Every absence not over at `now` (future ones included), by user. A short list: people."""
    query = sa.select(absences).where(
        sa.or_(absences.c.away_until.is_(None), absences.c.away_until > now)
    )
    return {r.user_id: _absence(r) for r in await conn.execute(query)}


async def get_absence(conn: Conn, user_id: str) -> Absence | None:
    row = (await conn.execute(sa.select(absences).where(absences.c.user_id == user_id))).first()
    return _absence(row) if row else None


async def put_absence(conn: Conn, absence: Absence, now: datetime) -> None:
    await conn.execute(absences.delete().where(absences.c.user_id == absence.user_id))
    await conn.execute(
        absences.insert().values(
            user_id=absence.user_id,
            away_from=absence.away_from,
            away_until=absence.away_until,
            delegate_id=absence.delegate_id,
            updated_at=now,
        )
    )


async def delete_absence(conn: Conn, user_id: str) -> bool:
    result = await conn.execute(absences.delete().where(absences.c.user_id == user_id))
    return result.rowcount > 0
