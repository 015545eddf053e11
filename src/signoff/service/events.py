"""Reading the event log and verifying its chain."""

from __future__ import annotations

from dataclasses import dataclass

from ..audit.chain import Verdict, verify
from ..domain.model import Event, Principal
from ..store import events as store
from .context import Context
from .requests import _load, check_can_read


async def request_events(ctx: Context, actor: Principal, request_id: str) -> list[Event]:
    async with ctx.db.read() as conn:
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request, ctx.clock())
        return await store.list_request_events(conn, request_id)


@dataclass(frozen=True)
class EventFilter:
    types: tuple[str, ...] = ()
    loop_id: str | None = None
    request_id: str | None = None
    type_prefix: str | None = None  # what the caller may see, e.g. "request."


async def events_after(
    ctx: Context, after: int, limit: int, where: EventFilter = EventFilter()
) -> list[Event]:
    async with ctx.db.read() as conn:
        return await store.list_events_after(
            conn,
            after,
            limit,
            types=where.types,
            loop_id=where.loop_id,
            request_id=where.request_id,
            type_prefix=where.type_prefix,
        )


async def verify_chain(ctx: Context) -> tuple[Verdict, int]:
    """The chain's verdict and how many events still wait to be sealed."""
    async with ctx.db.read() as conn:
        links = [link async for link in store.iter_chain(conn)]
        unsealed = await store.count_unsealed(conn)
    return verify(links), unsealed
