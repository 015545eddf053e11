"""The inbox: what waits for this reviewer, filtered, paged by key, updated live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from ..domain.model import Priority
from ..errors import ValidationFailed
from ..service import events as event_service
from ..service import review as service
from ..service.context import Context
from ..service.sessions import WebSession
from .auth import Ctx, CurrentSession
from .render import HEADERS, fragment, page
from .routing import web_router

router = web_router()
PAGE_SIZE = 50
KEEP_ALIVE_SECONDS = 15.0
# What changes an inbox: a request arrives, leaves `pending`, or changes what it says; or who
# may decide it changes (assignment, escalation, a stage, a vote, someone away or back).
LIVE_TYPES = (
    "request.created",
    "request.completed",
    "request.cancelled",
    "request.timed_out",
    "request.updated",
    "request.assigned",
    "request.escalated",
    "request.stage_completed",
    "request.vote",
    "user.updated",
)


def parse_filter(loop: str, priority: str, q: str) -> service.InboxFilter:
    try:
        level = Priority(priority) if priority else None
    except ValueError:
        raise ValidationFailed.field("query.priority", f"not a priority: {priority!r}") from None
    return service.InboxFilter(loop_id=loop or None, priority=level, text=q.strip() or None)


def parse_after(after: str) -> tuple[Priority, str] | None:
    if not after:
        return None
    level, _, request_id = after.partition(".")
    if level not in Priority.__members__ or not request_id.startswith("req_"):
        raise ValidationFailed.field("query.after", "not a position this inbox gave out")
    return Priority(level), request_id


def _values(inbox: service.Inbox, where: service.InboxFilter, after: str) -> dict[str, object]:
    query = {
        k: v
        for k, v in (
            ("loop", where.loop_id),
            ("priority", where.priority.value if where.priority else None),
            ("q", where.text),
        )
        if v
    }
    next_url = None
    if inbox.next_key:
        next_url = "/?" + urlencode(
            {**query, "after": f"{inbox.next_key[0].value}.{inbox.next_key[1]}"}
        )
    return {
        "inbox": inbox,
        "where": where,
        "filtered": bool(query),
        "next_url": next_url,
        "first_url": "/?" + urlencode(query) if after else None,
        "priorities": list(Priority),
    }


@router.get("/", response_class=HTMLResponse)
async def inbox_page(
    request: Request,
    ctx: Ctx,
    session: CurrentSession,
    loop: str = "",
    priority: str = "",
    q: str = "",
    after: str = "",
    fragment_only: bool = Query(False, alias="fragment"),
) -> Response:
    where = parse_filter(loop, priority, q)
    inbox = await service.inbox(ctx, session.principal, where, parse_after(after), PAGE_SIZE)
    values = _values(inbox, where, after)
    if fragment_only:
        body = fragment("_inbox_list.html", {**values, "now": ctx.clock(), "selected": ()})
        return HTMLResponse(body, headers=HEADERS)
    return await page(request, "inbox.html", values)


async def refused_batch(
    request: Request,
    ctx: Context,
    session: WebSession,
    selected: list[str],
    feedback: str,
    errors: dict[str, str],
) -> Response:
    """The inbox again after a batch form was refused: the boxes still ticked, the feedback
    still written, what is wrong next to it (422)."""
    where = parse_filter("", "", "")
    inbox = await service.inbox(ctx, session.principal, where, None, PAGE_SIZE)
    values = {
        **_values(inbox, where, ""),
        "selected": set(selected),
        "batch_feedback": feedback,
        "batch_errors": errors,
    }
    return await page(request, "inbox.html", values, status=422)


@router.get("/inbox/stream")
async def inbox_stream(ctx: Ctx, session: CurrentSession, after: int = 0) -> Response:
    """Server-sent events: `inbox` when something may have changed what this reviewer may
    decide (service.review `inbox_changes`); the page then reloads its list."""
    return StreamingResponse(
        _inbox_events(ctx, session, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _inbox_events(ctx: Context, session: WebSession, after: int) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    filters = event_service.EventFilter(types=LIVE_TYPES)
    with ctx.notifier.subscribe_feed() as fresh:
        while True:
            fresh.clear()
            batch = await event_service.events_after(ctx, after, 500, filters)
            if batch:
                after = batch[-1].seq or after
                seen = await service.inbox_changes(ctx, session.principal, batch)
                if seen:
                    data = json.dumps([{"type": e.type, "request_id": e.request_id} for e in seen])
                    yield f"id: {after}\nevent: inbox\ndata: {data}\n\n"
                if len(batch) == 500:
                    continue
            try:
                await asyncio.wait_for(fresh.wait(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
