"""Loops and their reviewers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.model import AssignmentStrategy, Loop, Status, TimeoutAction
from ..domain.rules import rules_from_json, stage_from_json
from ..domain.timers import EscalationStep
from ._rows import utc
from .db import Conn
from .tables import loop_reviewers, loops, requests

_LIVE = loops.c.deleted_at.is_(None)


def _loop(row: Any, reviewers: list[str]) -> Loop:
    return Loop(
        id=row.id,
        name=row.name,
        description=row.description,
        reviewers=tuple(reviewers),
        required_approvals=row.required_approvals,
        allow_self_approval=row.allow_self_approval,
        default_timeout_seconds=row.default_timeout_seconds,
        allow_timeout_approval=row.allow_timeout_approval,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        default_timeout_action=TimeoutAction(row.default_timeout_action or "expire"),
        pickup_timeout_seconds=row.pickup_timeout_seconds,
        reminders=tuple(row.reminders or ()),
        escalation=tuple(EscalationStep.from_json(s) for s in row.escalation or ()),
        rules=rules_from_json(row.rules),
        stages=tuple(stage_from_json(s) for s in row.stages or ()),
        assignment=AssignmentStrategy(row.assignment),
    )


async def _reviewers_of(conn: Conn, loop_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in loop_ids}
    if loop_ids:
        rows = await conn.execute(
            sa.select(loop_reviewers)
            .where(loop_reviewers.c.loop_id.in_(loop_ids))
            .order_by(loop_reviewers.c.loop_id, loop_reviewers.c.position)
        )
        for r in rows:
            found[r.loop_id].append(r.user_id)
    return found


async def insert_loop(conn: Conn, values: dict[str, Any], reviewers: list[str]) -> None:
    await conn.execute(loops.insert().values(**values))
    await set_reviewers(conn, values["id"], reviewers)


async def set_reviewers(conn: Conn, loop_id: str, reviewers: list[str]) -> None:
    await conn.execute(loop_reviewers.delete().where(loop_reviewers.c.loop_id == loop_id))
    if reviewers:
        await conn.execute(
            loop_reviewers.insert(),
            [{"loop_id": loop_id, "user_id": u, "position": i} for i, u in enumerate(reviewers)],
        )


async def update_loop(conn: Conn, loop_id: str, values: dict[str, Any]) -> None:
    await conn.execute(loops.update().where(loops.c.id == loop_id).values(**values))


async def get_loop(conn: Conn, loop_id: str, *, reviewers: bool = True) -> Loop | None:
    """The live loop; without `reviewers` its `reviewers` is left empty (one query less)."""
    row = (await conn.execute(sa.select(loops).where(loops.c.id == loop_id, _LIVE))).first()
    if row is None:
        return None
    return _loop(row, (await _reviewers_of(conn, [loop_id]))[loop_id] if reviewers else [])


async def loops_by_id(conn: Conn, ids: Iterable[str]) -> dict[str, Loop]:
    """These loops (the live ones among them), by id."""
    rows = (await conn.execute(sa.select(loops).where(loops.c.id.in_(list(ids)), _LIVE))).all()
    reviewers = await _reviewers_of(conn, [r.id for r in rows])
    return {r.id: _loop(r, reviewers[r.id]) for r in rows}


async def get_loop_by_name(conn: Conn, name: str) -> Loop | None:
    row = (await conn.execute(sa.select(loops.c.id).where(loops.c.name == name, _LIVE))).first()
    return await get_loop(conn, row.id) if row else None


async def name_taken(conn: Conn, name: str, other_than: str | None = None) -> bool:
    query = sa.select(loops.c.id).where(loops.c.name == name, _LIVE)
    if other_than:
        query = query.where(loops.c.id != other_than)
    return (await conn.execute(query)).first() is not None


async def list_loops(
    conn: Conn, after: str | None, limit: int, reviewer: str | None = None
) -> list[Loop]:
    query = sa.select(loops).where(_LIVE).order_by(loops.c.id).limit(limit)
    if after:
        query = query.where(loops.c.id > after)
    if reviewer:
        mine = sa.select(loop_reviewers.c.loop_id).where(loop_reviewers.c.user_id == reviewer)
        query = query.where(loops.c.id.in_(mine))
    rows = (await conn.execute(query)).all()
    reviewers = await _reviewers_of(conn, [r.id for r in rows])
    return [_loop(r, reviewers[r.id]) for r in rows]


async def has_pending_requests(conn: Conn, loop_id: str) -> bool:
    query = sa.select(requests.c.id).where(
        requests.c.loop_id == loop_id, requests.c.status == Status.pending.value
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def loops_routing_to(conn: Conn, loop_id: str) -> list[str]:
    """The live loops with a `route_to` rule that names `loop_id`."""
    rows = await conn.execute(sa.select(loops.c.id, loops.c.rules).where(_LIVE))
    return [r.id for r in rows if any(rule.get("loop_id") == loop_id for rule in r.rules or ())]


async def live_loop_ids(conn: Conn, ids: set[str]) -> set[str]:
    rows = await conn.execute(sa.select(loops.c.id).where(loops.c.id.in_(ids), _LIVE))
    return {r.id for r in rows}


async def delete_loop(conn: Conn, loop_id: str, now: datetime) -> None:
    await conn.execute(loops.update().where(loops.c.id == loop_id).values(deleted_at=now))
    await set_reviewers(conn, loop_id, [])
