"""What a reviewer's inbox reads: pending requests, highest priority first, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from ..domain.model import Priority, Status
from ._rows import utc, utc_or_none
from .db import Conn
from .deciders import Decider, Shape, covered, may_decide, ways
from .tables import events, requests

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
    decider: Decider | None  # None: every pending request (an admin)
    voter_id: str  # requests this voter already voted on (or had voted for them) are left out
    loop_id: str | None = None
    priority: Priority | None = None
    text: str | None = None

    def params(self) -> dict[str, Any]:
        found: dict[str, Any] = {"voter": self.voter_id, "loop_id": self.loop_id}
        if self.text:  # as `contains(autoescape=True)` would: the needle's own % and _ are text
            escaped = self.text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
            found["needle"] = escaped
        return {**found, **(self.decider.params() if self.decider else {})}


_PENDING = requests.c.status == Status.pending.value
_UNVOTED = ~covered(requests.c.id, sa.bindparam("voter", type_=sa.String))
_SEARCHED = (
    requests.c.title,
    sa.cast(requests.c.content, sa.Text),
    sa.cast(requests.c.metadata, sa.Text),
)


@cache
def _page(shape: Shape | None, by_loop: bool, after: bool, text: bool) -> sa.Select[Any]:
    """The pending requests of one priority (`level`) this reader may decide and has not voted
    on, by id from `after_id`: parameters, so that each shape is built once."""
    query = sa.select(*_COLUMNS).where(_PENDING, requests.c.priority == sa.bindparam("level"))
    if shape is not None:
        query = query.where(may_decide(shape))
    query = query.where(_UNVOTED)
    if after:
        query = query.where(requests.c.id > sa.bindparam("after_id"))
    if by_loop:
        query = query.where(requests.c.loop_id == sa.bindparam("loop_id"))
    if text:
        needle = sa.bindparam("needle", type_=sa.String)
        query = query.where(
            sa.or_(*(sa.func.lower(c).contains(needle, escape="/") for c in _SEARCHED))
        )
    return query.order_by(requests.c.id).limit(sa.bindparam("limit", type_=sa.Integer))


async def pending_page(
    conn: Conn, q: InboxQuery, after: tuple[Priority, str] | None, limit: int
) -> list[InboxItem]:
    """Up to `limit` requests after the key `(priority, id)`: one index range per priority
    (status, priority, id), so the page costs the same on the first page and the hundredth."""
    found: list[InboxItem] = []
    levels = [q.priority] if q.priority else list(PRIORITY_ORDER)
    if after is not None:
        levels = [p for p in levels if PRIORITY_ORDER.index(p) >= PRIORITY_ORDER.index(after[0])]
    shape = q.decider.shape if q.decider else None
    params = q.params()
    for level in levels:
        resume = after is not None and level is after[0]
        query = _page(shape, q.loop_id is not None, resume, bool(q.text))
        values = {**params, "level": level.value, "limit": limit - len(found)}
        if resume:
            assert after is not None
            values["after_id"] = after[1]
        found += [_item(r) for r in await conn.execute(query, values)]
        if len(found) >= limit:
            break
    return found


@cache
def _counts(shape: Shape | None) -> sa.CompoundSelect[Any]:
    """Each way of deciding counted from its own index (a reviewer's loops from (loop_id,
    status, id), reading no row), leaving out what an earlier way counted already: those are
    few, and only they are read twice."""
    each = (sa.true(),) if shape is None else ways(shape, row=False)
    return sa.union_all(
        *(
            sa.select(requests.c.loop_id, sa.func.count().label("n"))
            .where(_PENDING, way, *(~earlier for earlier in each[:k]), _UNVOTED)
            .group_by(requests.c.loop_id)
            for k, way in enumerate(each)
        )
    )


async def pending_counts(conn: Conn, q: InboxQuery) -> dict[str, int]:
    """What the whole inbox holds (filters aside), per loop."""
    counts: dict[str, int] = {}
    shape = q.decider.shape if q.decider else None
    for row in await conn.execute(_counts(shape), q.params()):
        counts[row.loop_id] = counts.get(row.loop_id, 0) + int(row.n)
    return counts


async def latest_seq(conn: Conn) -> int:
    found = (await conn.execute(sa.select(sa.func.max(events.c.seq)))).scalar_one()
    return int(found or 0)


async def revisions_of(conn: Conn, request_id: str) -> list[str]:
    """Ids of the requests made as revisions of this one."""
    query = sa.select(requests.c.id).where(requests.c.previous_request_id == request_id)
    return [r.id for r in await conn.execute(query.order_by(requests.c.id))]
