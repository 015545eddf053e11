"""The scheduler's due work: timers written with their request, claimed when due, deleted
in the transaction that fires them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.timers import TimerKind
from ._rows import utc, utc_or_none
from .db import Conn
from .tables import timers


@dataclass(frozen=True)
class Timer:
    id: str
    request_id: str
    kind: TimerKind
    step: int
    data: dict[str, Any] | None
    due_at: datetime
    attempts: int
    locked_until: datetime | None


def _timer(row: Any) -> Timer:
    return Timer(
        id=row.id,
        request_id=row.request_id,
        kind=TimerKind(row.kind),
        step=row.step,
        data=row.data,
        due_at=utc(row.due_at),
        attempts=row.attempts,
        locked_until=utc_or_none(row.locked_until),
    )


def _ready(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        timers.c.due_at <= now,
        sa.or_(timers.c.locked_until.is_(None), timers.c.locked_until <= now),
    )


async def insert_timers(conn: Conn, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(timers.insert(), rows)


async def claim_due(conn: Conn, now: datetime, limit: int, *, skip_locked: bool) -> list[Timer]:
    """Up to `limit` due timers, locked by this transaction until it ends.

    On PostgreSQL, FOR UPDATE SKIP LOCKED hands each due timer to one scheduler: another
    scheduler's claim passes over it, and once the firing transaction commits the row is gone.
    A scheduler killed mid-firing rolls back; the row is due again at once for whoever looks
    next. SQLite's writer lock serializes schedulers the same way.
    """
    query = sa.select(timers).where(_ready(now)).order_by(timers.c.due_at, timers.c.id).limit(limit)
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return [_timer(r) for r in await conn.execute(query)]


async def delete_timers(conn: Conn, ids: list[str]) -> None:
    if ids:
        await conn.execute(timers.delete().where(timers.c.id.in_(ids)))


async def cancel_timers(
    conn: Conn, request_ids: list[str], kinds: tuple[TimerKind, ...] | None = None
) -> None:
    """Drop these requests' timers, except those a scheduler is firing right now (SKIP LOCKED:
    a decision never waits for a scheduler, which takes the request's lock next and so finds
    the request decided and does nothing). SQLite renders no FOR UPDATE; its writer is alone.
    """
    if not request_ids:
        return
    mine = sa.select(timers.c.id).where(timers.c.request_id.in_(request_ids))
    if kinds is not None:
        mine = mine.where(timers.c.kind.in_([k.value for k in kinds]))
    ids = [r.id for r in await conn.execute(mine.with_for_update(skip_locked=True))]
    await delete_timers(conn, ids)


async def defer(conn: Conn, timer_id: str, until: datetime, error: str) -> None:
    """A firing failed: try again at `until`."""
    await conn.execute(
        timers.update()
        .where(timers.c.id == timer_id)
        .values(attempts=timers.c.attempts + 1, locked_until=until, last_error=error[:2000])
    )


async def next_due(conn: Conn) -> datetime | None:
    """When the earliest timer can fire: its due time, or, after a failed firing (deferred,
    which happens only once it was due), the time it waits until. Two index-friendly minimums."""
    fresh = sa.select(sa.func.min(timers.c.due_at)).where(timers.c.locked_until.is_(None))
    deferred = sa.select(sa.func.min(timers.c.locked_until))
    found = [
        (await conn.execute(fresh)).scalar_one_or_none(),
        (await conn.execute(deferred)).scalar_one_or_none(),
    ]
    times = [utc(t) for t in found if t is not None]
    return min(times) if times else None


async def timers_of(conn: Conn, request_id: str) -> list[Timer]:
    query = sa.select(timers).where(timers.c.request_id == request_id).order_by(timers.c.due_at)
    return [_timer(r) for r in await conn.execute(query)]
