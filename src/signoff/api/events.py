"""/v1/events: the event log, resumable by sequence number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..service import events as service
from .deps import Ctx, Limit, Writer, page_of
from .out import event_out
from .schemas import EventOut, Page

router = APIRouter(tags=["events"])


@router.get("/v1/events")
async def list_events(
    ctx: Ctx,
    caller: Writer,
    limit: Limit,
    after: int = Query(0, ge=0, description="Answer events with a sequence number above this."),
    type: Annotated[list[str] | None, Query(description="Only these event types")] = None,
    loop_id: str | None = None,
    request_id: str | None = None,
) -> Page[EventOut]:
    found = await service.events_after(
        ctx, after, limit + 1, types=type or (), loop_id=loop_id, request_id=request_id
    )
    return page_of(found, limit, event_out, lambda e: str(e.seq))
