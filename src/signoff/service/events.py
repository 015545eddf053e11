"""Reading the event log and verifying its chain."""

from __future__ import annotations

from collections.abc import Sequence

from ..audit.chain import Verdict, verify
from ..domain.model import Event, Principal
from ..store import events as store
from .context import Context
from .requests import _load, check_can_read


async def request_events(ctx: Context, actor: Principal, request_id: str) -> list[Event]:
    async with ctx.db.read() as conn:
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request)
        return await store.list_request_events(conn, request_id)


async def events_after(
    ctx: Context,
    after: int,
    limit: int,
    *,
    types: Sequence[str] = (),
    loop_id: str | None = None,
    request_id: str | None = None,
) -> list[Event]:
    async with ctx.db.read() as conn:
        return await store.list_events_after(
            conn, after, limit, types=types, loop_id=loop_id, request_id=request_id
        )


async def verify_chain(ctx: Context) -> tuple[Verdict, int]:
    """The chain's verdict and how many events still wait to be sealed."""
    async with ctx.db.read() as conn:
        links = [link async for link in store.iter_chain(conn)]
        unsealed = await store.count_unsealed(conn)
    return verify(links), unsealed
