"""Writing, sealing and reading events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..audit.chain import GENESIS, Link, link_hash
from ..domain.canonical import dumps
from ..domain.ids import new_id
from ..domain.model import Event, NewEvent
from ._rows import utc
from .db import Conn
from .tables import events

SEAL_BATCH = 1000
# Any constant works: it names the lock that serializes sealers across processes on PostgreSQL.
_SEAL_LOCK = 0x5160FF


async def chain_head(conn: Conn) -> tuple[int, str]:
    """The sequence number and hash of the newest sealed event (0 and GENESIS before any)."""
    head = (
        await conn.execute(
            sa.select(events.c.seq, events.c.hash)
            .where(events.c.seq.is_not(None))
            .order_by(events.c.seq.desc())
            .limit(1)
        )
    ).first()
    return (head.seq, head.hash) if head else (0, GENESIS)


def _link(rows: list[dict[str, Any]], head: tuple[int, str]) -> list[dict[str, Any]]:
    """Seal `rows` (event rows as inserted) onto the chain after `head`, in order."""
    seq, prev = head
    for row in rows:
        seq += 1
        link = Link(
            seq,
            row["id"],
            row["type"],
            utc(row["occurred_at"]),
            row["actor"],
            row["request_id"],
            row["loop_id"],
            row["data"],
        )
        digest = link_hash(prev, link)
        row.update(seq=seq, prev_hash=prev, hash=digest)
        prev = digest
    return rows


async def insert_events(
    conn: Conn, new: Sequence[NewEvent], now: datetime, *, sealed: bool = False
) -> list[str]:
    """Write the events; answers their ids, in order.

    With `sealed`, link them into the chain as they are written: right for a writer that holds
    the only write lock (SQLite), where no other transaction can be adding events meanwhile.
    """
    if not new:
        return []
    rows = [
        {
            "id": new_id("evt", now),
            "type": e.type,
            "occurred_at": now,
            "actor": dumps(e.actor),
            "request_id": e.request_id,
            "loop_id": e.loop_id,
            "data": dumps(e.data),
        }
        for e in new
    ]
    if sealed:
        _link(rows, await chain_head(conn))
    await conn.execute(events.insert(), rows)
    return [str(r["id"]) for r in rows]


async def seal_events(conn: Conn, *, lock: bool) -> int:
    """Link every committed unsealed event into the chain; answers how many were sealed.

    With `lock`, first take the PostgreSQL advisory lock so only one sealer runs at a time;
    SQLite's write transaction is already exclusive.
    """
    if lock:
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SEAL_LOCK)))
    rows = (
        await conn.execute(
            sa.select(events).where(events.c.seq.is_(None)).order_by(events.c.pk).limit(SEAL_BATCH)
        )
    ).all()
    if not rows:
        return 0
    linked = _link([dict(r._mapping) for r in rows], await chain_head(conn))
    updates = [
        {"b_pk": r["pk"], "seq": r["seq"], "prev_hash": r["prev_hash"], "hash": r["hash"]}
        for r in linked
    ]
    await conn.execute(
        events.update()
        .where(events.c.pk == sa.bindparam("b_pk"))
        .values(
            seq=sa.bindparam("seq"),
            prev_hash=sa.bindparam("prev_hash"),
            hash=sa.bindparam("hash"),
        ),
        updates,
    )
    return len(updates)


def _event(row: Any) -> Event:
    return Event(
        id=row.id,
        seq=row.seq,
        type=row.type,
        occurred_at=utc(row.occurred_at),
        actor=json.loads(row.actor),
        request_id=row.request_id,
        loop_id=row.loop_id,
        data=json.loads(row.data),
        hash=row.hash,
        prev_hash=row.prev_hash,
    )


async def list_request_events(conn: Conn, request_id: str) -> list[Event]:
    rows = await conn.execute(
        sa.select(events).where(events.c.request_id == request_id).order_by(events.c.pk)
    )
    return [_event(r) for r in rows]


async def list_events_after(
    conn: Conn,
    after: int,
    limit: int,
    *,
    types: Sequence[str] = (),
    loop_id: str | None = None,
    request_id: str | None = None,
    type_prefix: str | None = None,
) -> list[Event]:
    """Sealed events with `seq > after`, in order: the resumable feed."""
    query = sa.select(events).where(events.c.seq > after)
    if type_prefix:
        query = query.where(events.c.type.startswith(type_prefix, autoescape=True))
    if types:
        query = query.where(events.c.type.in_(types))
    if loop_id:
        query = query.where(events.c.loop_id == loop_id)
    if request_id:
        query = query.where(events.c.request_id == request_id)
    rows = await conn.execute(query.order_by(events.c.seq).limit(limit))
    return [_event(r) for r in rows]


async def iter_chain(conn: Conn, batch: int = 5000) -> AsyncIterator[Link]:
    """Every sealed event in `seq` order, for verification, read in batches."""
    after = 0
    while True:
        rows = (
            await conn.execute(
                sa.select(events).where(events.c.seq > after).order_by(events.c.seq).limit(batch)
            )
        ).all()
        for row in rows:
            yield Link(
                row.seq,
                row.id,
                row.type,
                utc(row.occurred_at),
                row.actor,
                row.request_id,
                row.loop_id,
                row.data,
                row.prev_hash,
                row.hash,
            )
        if len(rows) < batch:
            return
        after = rows[-1].seq


async def sealed_after(conn: Conn, after: int, limit: int) -> list[tuple[int, str, str | None]]:
    """`(seq, id, request_id)` of the sealed events above `after`, in order: one range scan of
    the `seq` index, which finds nothing and costs next to nothing when nothing happened."""
    rows = await conn.execute(
        sa.select(events.c.seq, events.c.id, events.c.request_id)
        .where(events.c.seq > after)
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [(r.seq, r.id, r.request_id) for r in rows]


async def count_unsealed(conn: Conn) -> int:
    query = sa.select(sa.func.count()).select_from(events).where(events.c.seq.is_(None))
    return int((await conn.execute(query)).scalar_one())
