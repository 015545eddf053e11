"""/v1/events: the event log, resumable by sequence number, as pages or as a live stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from ..domain.model import Principal, Role
from ..service import events as service
from ..service.context import Context
from .deps import Ctx, Limit, Writer, page_of
from .idempotency import IdempotentRoute
from .out import event_out
from .schemas import EventOut, Page

router = APIRouter(tags=["events"], route_class=IdempotentRoute)
KEEP_ALIVE_SECONDS = 15.0
STREAM_BATCH = 500


def _visible_prefix(caller: Principal) -> str | None:
    # A workflow's key sees what happens to requests; people and keys are an admin's business.
    return None if caller.role is Role.admin else "request."


@router.get(
    "/v1/events",
    response_model=Page[EventOut],
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def list_events(
    request: Request,
    ctx: Ctx,
    caller: Writer,
    limit: Limit,
    after: int = Query(
        0, ge=0, le=2**63 - 1, description="Answer events with a sequence number above this."
    ),
    type: Annotated[list[str] | None, Query(description="Only these event types")] = None,
    loop_id: str | None = None,
    request_id: str | None = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**63 - 1)] = None,
) -> Page[EventOut] | Response:
    """The events after `after`. With `Accept: text/event-stream`, a live stream that resumes
    from the `Last-Event-ID` header (the `seq` of the last event received)."""
    filters = service.EventFilter(
        types=tuple(type or ()),
        loop_id=loop_id,
        request_id=request_id,
        type_prefix=_visible_prefix(caller),
    )
    if "text/event-stream" in request.headers.get("accept", ""):
        start = last_event_id if last_event_id is not None else after
        return StreamingResponse(
            _stream(ctx, filters, start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    found = await service.events_after(ctx, after, limit + 1, filters)
    return page_of(found, limit, event_out, lambda e: str(e.seq))


async def _stream(ctx: Context, filters: service.EventFilter, after: int) -> AsyncIterator[str]:
    """Sealed events as SSE frames, `id:` being the sequence number; a comment line every
    15 s keeps proxies from closing a quiet stream."""
    yield "retry: 2000\n\n"
    with ctx.notifier.subscribe_feed() as fresh:
        while True:
            fresh.clear()
            batch = await service.events_after(ctx, after, STREAM_BATCH, filters)
            for event in batch:
                body = event_out(event).model_dump_json()
                yield f"id: {event.seq}\nevent: {event.type}\ndata: {body}\n\n"
            if batch:
                after = batch[-1].seq or after
            if len(batch) == STREAM_BATCH:
                continue
            try:
                await asyncio.wait_for(fresh.wait(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
