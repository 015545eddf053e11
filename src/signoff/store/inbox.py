"""What a reviewer's inbox reads: pending requests, highest priority first, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.model import Priority, Status
from ._rows import utc, utc_or_none
from .db import Conn
from .tables import events, requests, votes

# Highest first: the order the inbox walks the priorities in.
PRIORITY_ORDER: tuple[Priority, ...] = (
    Priority.urgent,
    Priority.high,
    Priority.normal,
    Priority.low,
)


@dataclass(frozen=True)
class InboxItem:
    """A pending request as an inbox row shows it: no content, no JSON to decode but one."""

    id: str
    loop_id: str
    title: str | None
    priority: Priority
    response_type: str
    previous_request_id: str | None
    created_at: datetime
    deadline_at: datetime | None
    content_hash: str  # what a batch vote from this row is bound to


_COLUMNS = [
    requests.c.id,
    requests.c.loop_id,
    requests.c.title,
    requests.c.priority,
    requests.c.response_spec,
    requests.c.previous_request_id,
    requests.c.created_at,
    requests.c.deadline_at,
    requests.c.content_hash,
]


def _item(row: Any) -> InboxItem:
    return InboxItem(
        id=row.id,
        loop_id=row.loop_id,
        title=row.title,
        priority=Priority(row.priority),
        response_type=row.response_spec.get("type", "approval"),
        previous_request_id=row.previous_request_id,
        created_at=utc(row.created_at),
        deadline_at=utc_or_none(row.deadline_at),
        content_hash=row.content_hash,
    )


@dataclass(frozen=True)
class InboxQuery:
    loop_ids: list[str] | None  # None: every loop (an admin)
    voter_id: str  # requests this voter already voted on are left out
    priority: Priority | None = None
    text: str | None = None


def _base(q: InboxQuery) -> sa.Select[Any]:
    query = sa.select(*_COLUMNS).where(requests.c.status == Status.pending.value)
    if q.loop_ids is not None:
        query = query.where(requests.c.loop_id.in_(q.loop_ids))
    voted = sa.exists().where(
        votes.c.request_id == requests.c.id,
        votes.c.voter_id == q.voter_id,
        votes.c.voided_at.is_(None),
    )
    query = query.where(~voted)
    if q.text:
        needle = q.text.lower()
        query = query.where(
            sa.or_(
                *(
                    sa.func.lower(column).contains(needle, autoescape=True)
                    for column in (
                        requests.c.title,
                        sa.cast(requests.c.content, sa.Text),
                        sa.cast(requests.c.metadata, sa.Text),
                    )
                )
            )
        )
    return query


async def pending_page(
    conn: Conn, q: InboxQuery, after: tuple[Priority, str] | None, limit: int
) -> list[InboxItem]:
    """Up to `limit` requests after the key `(priority, id)`: one index range per priority
    (status, priority, id), so the page costs the same on the first page and the hundredth."""
    found: list[InboxItem] = []
    levels = [q.priority] if q.priority else list(PRIORITY_ORDER)
    if after is not None:
        levels = [p for p in levels if PRIORITY_ORDER.index(p) >= PRIORITY_ORDER.index(after[0])]
    for level in levels:
        query = _base(q).where(requests.c.priority == level.value)
        if after is not None and level is after[0]:
            query = query.where(requests.c.id > after[1])
        query = query.order_by(requests.c.id).limit(limit - len(found))
        found += [_item(r) for r in await conn.execute(query)]
        if len(found) >= limit:
            break
    return found


async def pending_counts(conn: Conn, loop_ids: list[str] | None) -> dict[str, int]:
    """Pending requests per loop (all of them, whoever voted)."""
    query = (
        sa.select(requests.c.loop_id, sa.func.count())
        .where(requests.c.status == Status.pending.value)
        .group_by(requests.c.loop_id)
    )
    if loop_ids is not None:
        query = query.where(requests.c.loop_id.in_(loop_ids))
    return {loop_id: int(n) for loop_id, n in await conn.execute(query)}


async def latest_seq(conn: Conn) -> int:
    found = (await conn.execute(sa.select(sa.func.max(events.c.seq)))).scalar_one()
    return int(found or 0)


async def revisions_of(conn: Conn, request_id: str) -> list[str]:
    """Ids of the requests made as revisions of this one."""
    query = sa.select(requests.c.id).where(requests.c.previous_request_id == request_id)
    return [r.id for r in await conn.execute(query.order_by(requests.c.id))]
