"""/v1/loops"""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..domain.model import Role
from ..domain.timers import EscalationStep
from ..errors import Forbidden
from ..service import loops as service
from ..service.loops import LoopDraft
from .deps import Admin, Ctx, Limit, Reader, decode_cursor, id_cursor, page_of
from .idempotency import IdempotentRoute
from .out import loop_out
from .schemas import LoopIn, LoopOut, LoopPatch, Page

router = APIRouter(prefix="/v1/loops", tags=["loops"], route_class=IdempotentRoute)


@router.post("", status_code=201)
async def create_loop(body: LoopIn, ctx: Ctx, caller: Admin) -> LoopOut:
    draft = LoopDraft(
        **{
            **body.model_dump(),
            "reviewers": tuple(body.reviewers),
            "reminders": tuple(body.reminders),
            "escalation": tuple(
                EscalationStep(s.after_seconds, tuple(s.add_reviewers), s.route_to)
                for s in body.escalation
            ),
        }
    )
    return loop_out(await service.create_loop(ctx, caller, draft))


@router.get("")
async def list_loops(
    ctx: Ctx, caller: Reader, limit: Limit, cursor: str | None = None
) -> Page[LoopOut]:
    # A reviewer sees the loops it reviews for; admins and requesters see all.
    reviewer = caller.user_id if caller.role is Role.reviewer else None
    found = await service.list_loops(ctx, decode_cursor(cursor, "loop"), limit + 1, reviewer)
    return page_of(found, limit, loop_out, id_cursor)


@router.get("/{loop_id}")
async def get_loop(loop_id: str, ctx: Ctx, caller: Reader) -> LoopOut:
    loop = await service.get_loop(ctx, loop_id)
    if caller.role is Role.reviewer and caller.user_id not in loop.reviewers:
        raise Forbidden(f"you are not a reviewer of loop {loop_id}")
    return loop_out(loop)


@router.patch("/{loop_id}")
async def update_loop(loop_id: str, body: LoopPatch, ctx: Ctx, caller: Admin) -> LoopOut:
    return loop_out(await service.update_loop(ctx, caller, loop_id, body.changes()))


@router.delete("/{loop_id}", status_code=204)
async def delete_loop(loop_id: str, ctx: Ctx, caller: Admin) -> Response:
    await service.delete_loop(ctx, caller, loop_id)
    return Response(status_code=204)
