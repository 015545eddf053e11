"""/v1/loops/{loop_id}/requests and /v1/requests"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from ..domain.model import Priority, Status
from ..domain.voting import Ballot
from ..errors import ValidationFailed
from ..service import events as event_service
from ..service import requests as service
from ..service import votes as vote_service
from ..service.requests import RequestDraft
from .deps import Ctx, Limit, Reader, Voter, Writer, decode_cursor, encode_cursor
from .idempotency import IdempotentRoute
from .out import event_out, request_out, response_out
from .schemas import (
    BatchIn,
    CancelIn,
    DecisionIn,
    EventOut,
    Page,
    RequestIn,
    RequestOut,
    RequestPatch,
    ResponseOut,
    StatusOut,
    VoteOut,
)

router = APIRouter(tags=["requests"], route_class=IdempotentRoute)


def draft_of(body: RequestIn) -> RequestDraft:
    return RequestDraft(
        content=body.content,
        title=body.title,
        content_type=body.content_type,
        priority=body.priority,
        context=body.context,
        metadata=body.metadata,
        ai_analysis=body.ai_analysis.model_dump(exclude_none=True) if body.ai_analysis else None,
        response=body.response.model_dump(by_alias=True, exclude_none=True)
        if body.response
        else None,
        required_approvals=body.required_approvals,
        requested_by=body.requested_by,
        timeout_seconds=body.timeout_seconds,
        timeout_action=body.timeout_action,
        callback=body.callback.model_dump(mode="json", exclude_none=True)
        if body.callback
        else None,
        previous_request_id=body.previous_request_id,
    )


@router.post("/v1/loops/{loop_id}/requests", status_code=201)
async def create_request(loop_id: str, body: RequestIn, ctx: Ctx, caller: Writer) -> RequestOut:
    [created] = await service.create_requests(ctx, caller, loop_id, [draft_of(body)], batch=False)
    return request_out(ctx, created)


@router.post("/v1/loops/{loop_id}/requests/batch", status_code=201)
async def create_batch(loop_id: str, body: BatchIn, ctx: Ctx, caller: Writer) -> Page[RequestOut]:
    if len(body.items) > ctx.limits.max_batch:
        raise ValidationFailed.field(
            "body.items", f"has {len(body.items)} items; the limit is {ctx.limits.max_batch}"
        )
    drafts = [draft_of(item) for item in body.items]
    created = await service.create_requests(ctx, caller, loop_id, drafts, batch=True)
    return Page(data=[request_out(ctx, r) for r in created], next_cursor=None)


@router.get("/v1/requests")
async def list_requests(
    ctx: Ctx,
    caller: Reader,
    limit: Limit,
    cursor: str | None = None,
    loop_id: str | None = None,
    status: Status | None = None,
    priority: Priority | None = None,
    created_after: datetime | None = Query(None, description="RFC 3339; inclusive"),
    created_before: datetime | None = Query(None, description="RFC 3339; exclusive"),
    assignee: str | None = Query(
        None,
        max_length=40,
        description="A user id, or `me`: requests assigned to them (or to someone they act for).",
    ),
) -> Page[RequestOut]:
    for name, value in (("created_after", created_after), ("created_before", created_before)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed.field(
                f"query.{name}", "needs a time zone, e.g. 2026-01-01T00:00:00Z"
            )
    page, next_id = await service.list_requests(
        ctx,
        caller,
        loop_id=loop_id,
        status=status,
        priority=priority,
        created_after=created_after,
        created_before=created_before,
        cursor=decode_cursor(cursor, "req"),
        limit=limit,
        assignee=assignee,
    )
    return Page(data=[request_out(ctx, r) for r in page], next_cursor=encode_cursor(next_id))


@router.get("/v1/requests/{request_id}")
async def get_request(request_id: str, ctx: Ctx, caller: Reader) -> RequestOut:
    return request_out(ctx, await service.get_request(ctx, caller, request_id))


@router.patch("/v1/requests/{request_id}")
async def update_request(
    request_id: str, body: RequestPatch, ctx: Ctx, caller: Writer
) -> RequestOut:
    return request_out(ctx, await service.update_request(ctx, caller, request_id, body.changes()))


@router.post("/v1/requests/{request_id}/cancel")
async def cancel_request(
    request_id: str, ctx: Ctx, caller: Writer, body: CancelIn | None = None
) -> RequestOut:
    reason = body.reason if body else None
    return request_out(ctx, await service.cancel_request(ctx, caller, request_id, reason))


@router.get("/v1/requests/{request_id}/status")
async def get_status(request_id: str, ctx: Ctx, caller: Reader) -> StatusOut:
    r = await service.get_request(ctx, caller, request_id)
    return StatusOut(id=r.id, status=r.status, decision=r.decision)


@router.get("/v1/requests/{request_id}/response")
async def get_response(
    request_id: str,
    ctx: Ctx,
    caller: Reader,
    wait: float = Query(
        0, ge=0, description="Hold the call up to this many seconds for the decision."
    ),
) -> ResponseOut:
    if wait > ctx.limits.max_wait_seconds:
        raise ValidationFailed.field("query.wait", f"at most {ctx.limits.max_wait_seconds} seconds")
    return response_out(await service.wait_for_response(ctx, caller, request_id, wait))


@router.post("/v1/requests/{request_id}/decisions", status_code=201)
async def decide(request_id: str, body: DecisionIn, ctx: Ctx, caller: Voter) -> VoteOut:
    ballot = Ballot(
        choice=body.decision,
        feedback=body.feedback,
        edited_content=body.edited_content,
        response_data=body.response_data,
        content_hash=body.content_hash,
    )
    request, verdict, cast = await vote_service.vote(ctx, caller, request_id, ballot)
    return VoteOut(
        vote_id=cast.id,
        request_id=request_id,
        choice=body.decision,
        approvals=verdict.approvals,
        required_approvals=verdict.required_approvals or request.required_approvals,
        status=request.status,
        decision=request.decision,
        stage=request.stages[cast.stage].stage.name if cast.stage is not None else None,
    )


@router.get("/v1/requests/{request_id}/events")
async def request_events(request_id: str, ctx: Ctx, caller: Reader) -> Page[EventOut]:
    found = await event_service.request_events(ctx, caller, request_id)
    return Page(data=[event_out(e) for e in found], next_cursor=None)
