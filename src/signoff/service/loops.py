"""Use cases for loops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.ids import new_id
from ..domain.model import AssignmentStrategy, Loop, Principal
from ..errors import Conflict, NotFound, ValidationFailed
from ..store import loops as store
from ..store import users as user_store
from .context import Context, transaction
from .views import loop_snapshot


@dataclass(frozen=True)
class LoopDraft:
    name: str
    description: str = ""
    reviewers: tuple[str, ...] = ()
    required_approvals: int = 1
    allow_self_approval: bool = False
    default_timeout_seconds: int | None = None
    allow_timeout_approval: bool = False
    assignment: AssignmentStrategy = AssignmentStrategy.open


async def _check_reviewers(tx_conn: Any, reviewers: tuple[str, ...]) -> None:
    if len(set(reviewers)) != len(reviewers):
        raise ValidationFailed.field("body.reviewers", "a reviewer is listed twice")
    unknown = set(reviewers) - await user_store.existing_user_ids(tx_conn, list(reviewers))
    if unknown:
        raise ValidationFailed.field(
            "body.reviewers", f"no such user: {', '.join(sorted(unknown))}"
        )


async def create_loop(ctx: Context, actor: Principal, draft: LoopDraft) -> Loop:
    async with transaction(ctx) as tx:
        if await store.name_taken(tx.conn, draft.name):
            raise Conflict(f"a loop named {draft.name!r} already exists")
        await _check_reviewers(tx.conn, draft.reviewers)
        loop_id = new_id("loop", tx.now)
        await store.insert_loop(
            tx.conn,
            {
                "id": loop_id,
                "name": draft.name,
                "description": draft.description,
                "required_approvals": draft.required_approvals,
                "allow_self_approval": draft.allow_self_approval,
                "default_timeout_seconds": draft.default_timeout_seconds,
                "allow_timeout_approval": draft.allow_timeout_approval,
                "assignment": draft.assignment.value,
                "created_at": tx.now,
                "updated_at": tx.now,
            },
            list(draft.reviewers),
        )
        loop = await _get(tx.conn, loop_id)
        tx.record("loop.created", actor.actor(), loop_snapshot(loop), loop_id=loop_id)
    return loop


async def _get(conn: Any, loop_id: str) -> Loop:
    loop = await store.get_loop(conn, loop_id)
    if loop is None:
        raise NotFound(f"no loop with id {loop_id!r}")
    return loop


async def get_loop(ctx: Context, loop_id: str) -> Loop:
    async with ctx.db.read() as conn:
        return await _get(conn, loop_id)


async def list_loops(
    ctx: Context, after: str | None, limit: int, reviewer: str | None = None
) -> list[Loop]:
    async with ctx.db.read() as conn:
        return await store.list_loops(conn, after, limit, reviewer)


async def update_loop(
    ctx: Context, actor: Principal, loop_id: str, changes: dict[str, Any]
) -> Loop:
    """Apply the fields given in `changes` (the keys of LoopDraft)."""
    async with transaction(ctx) as tx:
        before = await _get(tx.conn, loop_id)
        if "name" in changes and await store.name_taken(tx.conn, changes["name"], loop_id):
            raise Conflict(f"a loop named {changes['name']!r} already exists")
        values = {k: v for k, v in changes.items() if k != "reviewers"}
        if "reviewers" in changes:
            reviewers = tuple(changes["reviewers"])
            await _check_reviewers(tx.conn, reviewers)
            await store.set_reviewers(tx.conn, loop_id, list(reviewers))
        await store.update_loop(tx.conn, loop_id, {**values, "updated_at": tx.now})
        loop = await _get(tx.conn, loop_id)
        tx.record(
            "loop.updated",
            actor.actor(),
            {
                "loop": loop_snapshot(loop),
                "changed": sorted(changes),
                "before": loop_snapshot(before),
            },
            loop_id=loop_id,
        )
    return loop


async def delete_loop(ctx: Context, actor: Principal, loop_id: str) -> None:
    async with transaction(ctx) as tx:
        loop = await _get(tx.conn, loop_id)
        if await store.has_pending_requests(tx.conn, loop_id):
            raise Conflict(f"loop {loop_id} has pending requests; cancel or decide them first")
        await store.delete_loop(tx.conn, loop_id, tx.now)
        tx.record("loop.deleted", actor.actor(), loop_snapshot(loop), loop_id=loop_id)
