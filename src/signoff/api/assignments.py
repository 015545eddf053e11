"""Assignment and delegation: claim leases, reassignment, and reviewers' time away."""

from __future__ import annotations

from fastapi import APIRouter

from ..service import assignments as service
from ..service.assignments import Away
from .deps import Admin, Ctx, Voter
from .idempotency import IdempotentRoute
from .out import request_out, user_out
from .schemas import AssignIn, AwayIn, RequestOut, UserOut

router = APIRouter(tags=["assignment"], route_class=IdempotentRoute)


@router.post("/v1/requests/{request_id}/claim")
async def claim(request_id: str, ctx: Ctx, caller: Voter) -> RequestOut:
    """Take the claim lease (or renew yours): others see who is deciding it, and until when.
    409 while someone else holds it."""
    return request_out(ctx, await service.claim(ctx, caller, request_id))


@router.delete("/v1/requests/{request_id}/claim")
async def release(request_id: str, ctx: Ctx, caller: Voter) -> RequestOut:
    """Release your claim (an admin may release anyone's)."""
    return request_out(ctx, await service.release(ctx, caller, request_id))


@router.post("/v1/requests/{request_id}/assign")
async def assign(request_id: str, body: AssignIn, ctx: Ctx, caller: Admin) -> RequestOut:
    """Give a pending request to another person (`request.assigned`)."""
    found = await service.reassign(ctx, caller, request_id, body.user_id, body.replaces)
    return request_out(ctx, found)


@router.put("/v1/users/{user_id}/away")
async def set_away(user_id: str, body: AwayIn, ctx: Ctx, caller: Voter) -> UserOut:
    """Mark a reviewer away (a reviewer themselves, or an admin), with a delegate who acts for
    them meanwhile."""
    away = Away(body.away_from, body.away_until, body.delegate_id)
    return user_out(await service.set_away(ctx, caller, user_id, away))


@router.delete("/v1/users/{user_id}/away")
async def clear_away(user_id: str, ctx: Ctx, caller: Voter) -> UserOut:
    return user_out(await service.clear_away(ctx, caller, user_id))
