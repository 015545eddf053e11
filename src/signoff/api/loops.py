"""/v1/loops"""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..domain.model import Role
from ..domain.timers import EscalationStep
from ..errors import Forbidden
from ..service import loops as service
from ..service import simulation as simulation_service
from ..service.loops import LoopDraft
from .deps import Admin, Ctx, Limit, Reader, Writer, decode_cursor, id_cursor, page_of
from .idempotency import IdempotentRoute
from .out import loop_out, simulation_out
from .requests import draft_of
from .schemas import LoopIn, LoopOut, LoopPatch, Page, RequestIn, SimulationOut

router = APIRouter(prefix="/v1/loops", tags=["loops"], route_class=IdempotentRoute)


@router.post("", status_code=201)
async def create_loop(body: LoopIn, ctx: Ctx, caller: Admin) -> LoopOut:
    fields = body.model_dump(exclude_none=False)
    fields.update(
        reviewers=tuple(body.reviewers),
        reminders=tuple(body.reminders),
        escalation=tuple(
            EscalationStep(s.after_seconds, tuple(s.add_reviewers), s.route_to)
            for s in body.escalation
        ),
        rules=tuple(r.model_dump(exclude_none=True) for r in body.rules),
        stages=tuple(s.model_dump() for s in body.stages),
    )
    draft = LoopDraft(**fields)
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


@router.post("/{loop_id}/simulate")
async def simulate(loop_id: str, body: RequestIn, ctx: Ctx, caller: Writer) -> SimulationOut:
    """What creating this request would do: which rule fires, who is asked at each stage, and
    when its clocks run out. Nothing is written."""
    simulation, people = await simulation_service.simulate(ctx, caller, loop_id, draft_of(body))
    return simulation_out(simulation, people)


@router.delete("/{loop_id}", status_code=204)
async def delete_loop(loop_id: str, ctx: Ctx, caller: Admin) -> Response:
    await service.delete_loop(ctx, caller, loop_id)
    return Response(status_code=204)
