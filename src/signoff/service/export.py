"""Decisions as a data set: what was asked, what people decided and said, one page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from ..domain.model import Request, Vote
from ..store import requests as store
from .context import Context


@dataclass(frozen=True)
class Decided:
    request: Request
    loop_name: str
    votes: list[Vote]  # the votes that count, in the order cast


async def decisions(
    ctx: Context,
    *,
    loop_id: str | None = None,
    since: datetime | None = None,
    page_size: int = 500,
) -> AsyncIterator[Decided]:
    """Every completed request, oldest first, with its votes; completed at or after `since`.

    Each page is its own short read, so an export of millions never holds a transaction open
    for long nor the whole set in memory.
    """
    after: str | None = None
    while True:
        async with ctx.db.read() as conn:
            page = await store.list_decided(conn, loop_id, since, after, page_size)
            votes = await store.live_votes_of(conn, [r.id for r, _ in page])
        for request, loop_name in page:
            yield Decided(request, loop_name, votes[request.id])
        if len(page) < page_size:
            return
        after = page[-1][0].id
