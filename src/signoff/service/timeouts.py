"""Time on requests: timers planned with the request, fired by the scheduler.

Each firing goes the one way every change goes: a transaction that locks the request, checks
it is still pending, changes it, writes the event (actor "system") and its webhooks and
notifications, and deletes the timer, all committed together. A request decided first makes
its timers no-ops (and its decision drops them). The scheduler adapter (scheduler/) only
decides when to call `fire_due`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..domain import timers as plan
from ..domain.ids import new_id
from ..domain.lifecycle import can_transition
from ..domain.model import SYSTEM, Loop, Request, StageStatus, Status
from ..domain.rules import mark_stage, stages_to_json
from ..domain.timers import PlannedTimer, TimerKind
from ..errors import InvalidTransition
from ..store import loops as loop_store
from ..store import requests as request_store
from ..store import timers as store
from ..store.timers import Timer
from . import deciders
from .context import Context, Tx, transaction
from .views import decision_snapshot, rfc3339

log = logging.getLogger(__name__)

# Who decides when nobody did: recorded as the system's, never as a person's.
SYSTEM_ON_TIMEOUT: dict[str, Any] = {"type": "system", "name": "system", "reason": "timeout"}


async def _write(tx: Tx, request_id: str, planned: list[PlannedTimer]) -> None:
    rows = [
        {
            "id": new_id("tmr", tx.now),
            "request_id": request_id,
            "kind": t.kind.value,
            "step": t.step,
            "data": t.data,
            "due_at": t.due_at,
            "attempts": 0,
            "locked_until": None,
            "last_error": None,
            "created_at": tx.now,
        }
        for t in planned
    ]
    await store.insert_timers(tx.conn, rows)
    for t in planned:
        tx.timers_added(t.due_at)


def _plan(request: Request, loop: Loop) -> list[PlannedTimer]:
    timers = plan.plan(
        created_at=request.created_at,
        deadline_at=request.deadline_at,
        pickup_deadline_at=None if request.picked_up_at else request.pickup_deadline_at,
        reminders=loop.reminders,
        escalation=loop.escalation,
    )
    stage = _stage_timer(request)
    return timers if stage is None else sorted([*timers, stage], key=lambda t: t.due_at)


def _stage_timer(request: Request) -> PlannedTimer | None:
    if request.stage is None:
        return None
    stage = request.stages[request.stage].stage
    return plan.stage_timer(request.stage, stage, request.stage_started_at)


async def schedule_new(tx: Tx, created: list[Request], loop: Loop) -> None:
    """Write the timers of requests just created in `loop` (one insert for a batch)."""
    rows: list[tuple[str, list[PlannedTimer]]] = [(r.id, _plan(r, loop)) for r in created]
    planned = [(request_id, t) for request_id, ts in rows for t in ts]
    if not planned:
        return
    await store.insert_timers(
        tx.conn,
        [
            {
                "id": new_id("tmr", tx.now),
                "request_id": request_id,
                "kind": t.kind.value,
                "step": t.step,
                "data": t.data,
                "due_at": t.due_at,
                "attempts": 0,
                "created_at": tx.now,
            }
            for request_id, t in planned
        ],
    )
    tx.timers_added(min(t.due_at for _, t in planned))


async def reschedule(tx: Tx, request: Request) -> None:
    """The deadline moved (PATCH timeout_seconds): plan again what is still ahead."""
    loop = await loop_store.get_loop(tx.conn, request.loop_id, reviewers=False)
    await store.cancel_timers(tx.conn, [request.id])
    if loop is not None:
        await _write(tx, request.id, plan.still_ahead(_plan(request, loop), tx.now))


async def stage_entered(tx: Tx, request: Request) -> None:
    """The request moved to another stage (the next one, or the first again after new
    content): the timer of the stage it left goes, the new stage's timeout is planned from now.
    `request` is as it is after the move."""
    await store.cancel_timers(tx.conn, [request.id], (TimerKind.stage_timeout,))
    timer = _stage_timer(request) if request.is_pending else None
    if timer is not None:
        await _write(tx, request.id, [timer])


async def picked_up(tx: Tx, request: Request) -> None:
    """Someone opened, claimed or voted on the request: its pickup clock stops.

    Called by the vote; the claim (assignment) and the review page call it too.
    """
    if request.picked_up_at is not None or not request.is_pending:
        return
    await request_store.update_pending(tx.conn, request.id, {"picked_up_at": tx.now})
    await store.cancel_timers(tx.conn, [request.id], (TimerKind.pickup,))


async def decided(tx: Tx, request_id: str) -> None:
    """The request left pending: its timers have nothing left to do."""
    await store.cancel_timers(tx.conn, [request_id])


async def fire_due(ctx: Context, limit: int = 200) -> int:
    """Fire up to `limit` due timers in one transaction; answers how many were claimed.

    The batch is tried whole first. If a firing fails, it is tried again timer by timer, each
    in a savepoint: the failing one is rolled back alone, its events dropped, and the timer
    tried again later (backoff), so a bad timer never holds up the others.
    """
    try:
        return await _fire_batch(ctx, limit, careful=False)
    except Exception:
        log.exception("firing a batch of timers failed; firing them one by one")
        return await _fire_batch(ctx, limit, careful=True)


class _Batch:
    """What one batch of firings looks up once: loops by id."""

    def __init__(self, tx: Tx, *, careful: bool) -> None:
        self.tx = tx
        self.careful = careful
        # Timeouts of a batch fired in one pass leave pending together, in one executemany.
        self.leaving: list[tuple[str, dict[str, Any]]] = []
        self.loops: dict[str, Loop | None] = {}
        self.requests: dict[str, Request] = {}  # locked, as the batch's firings leave them
        self.decided: list[str] = []  # requests that left pending: their other timers go

    async def loop(self, loop_id: str) -> Loop | None:
        if loop_id not in self.loops:
            self.loops[loop_id] = await loop_store.get_loop(self.tx.conn, loop_id)
        return self.loops[loop_id]


async def _fire_batch(ctx: Context, limit: int, *, careful: bool) -> int:
    async with transaction(ctx) as tx:
        due = await store.claim_due(tx.conn, tx.now, limit, skip_locked=not ctx.db.is_sqlite)
        batch = _Batch(tx, careful=careful)
        batch.requests = await request_store.lock_requests(
            tx.conn, sorted({t.request_id for t in due})
        )
        done: list[str] = []
        for timer in due:
            if not careful:
                await _fire(batch, timer)
                done.append(timer.id)
                continue
            mark = len(tx.events)
            try:
                async with tx.conn.begin_nested():
                    await _fire(batch, timer)
            except Exception as exc:
                del tx.events[mark:]
                batch.loops.clear()
                log.exception("timer %s (%s) failed to fire", timer.id, timer.kind.value)
                await store.defer(
                    tx.conn, timer.id, tx.now + plan.backoff(timer.attempts), repr(exc)
                )
            else:
                done.append(timer.id)
        if batch.leaving:
            moved = await request_store.leave_pending_many(tx.conn, batch.leaving)
            if moved != len(batch.leaving):  # cannot happen under the row locks; be sure
                raise InvalidTransition("a timed-out request was decided by someone else first")
        await store.delete_timers(tx.conn, done)
        await store.cancel_timers(tx.conn, batch.decided)
    return len(due)


async def next_due(ctx: Context) -> datetime | None:
    async with ctx.db.read() as conn:
        return await store.next_due(conn)


async def timers_of(ctx: Context, request_id: str) -> list[Timer]:
    async with ctx.db.read() as conn:
        return await store.timers_of(conn, request_id)


async def recipients(batch: _Batch, request: Request) -> list[str]:
    """Who is told of a reminder or a late pickup: the loop's reviewers and those escalation
    brought in. (Once assignment lands, the assignees are the ones to tell.)"""
    loop = await batch.loop(request.loop_id)
    return [*(loop.reviewers if loop else ()), *request.added_reviewers]


def _about(request: Request) -> dict[str, Any]:
    """What every request event carries, so a receiver can route on it (DESIGN §2)."""
    return {
        "request_id": request.id,
        "loop_id": request.loop_id,
        "status": request.status.value,
        "title": request.title,
        "metadata": request.metadata,
        "deadline_at": rfc3339(request.deadline_at),
    }


async def _fire(batch: _Batch, timer: Timer) -> None:
    tx = batch.tx
    request = batch.requests.get(timer.request_id)
    if request is None or not request.is_pending:
        return  # decided, cancelled or timed out first: nothing to do
    data = {**_about(request), "due_at": rfc3339(timer.due_at)}
    if timer.kind is TimerKind.timeout:
        await _time_out(batch, request, timer)
    elif timer.kind is TimerKind.stage_timeout:
        await _stage_time_out(batch, request, timer)
    elif timer.kind is TimerKind.reminder:
        fraction = (timer.data or {}).get("fraction")
        tx.record(
            "request.reminder",
            SYSTEM.actor(),
            {**data, "fraction": fraction, "reminder": timer.step + 1},
            request=request,
            notify=await recipients(batch, request),
        )
    elif timer.kind is TimerKind.pickup:
        if request.picked_up_at is not None:
            return
        tx.record(
            "request.pickup_overdue",
            SYSTEM.actor(),
            {**data, "pickup_deadline_at": rfc3339(request.pickup_deadline_at)},
            request=request,
            notify=await recipients(batch, request),
        )
    elif timer.kind is TimerKind.escalation:
        await _escalate(batch, request, timer, data)


async def _escalate(batch: _Batch, request: Request, timer: Timer, data: dict[str, Any]) -> None:
    """One rung of the ladder: add reviewers and/or move to another loop; stays pending."""
    tx = batch.tx
    step = plan.EscalationStep.from_json(timer.data or {"after_seconds": 0})
    level = request.escalation_level + 1
    values: dict[str, Any] = {"escalation_level": level, "updated_at": tx.now}
    added = [u for u in step.add_reviewers if u not in request.added_reviewers]
    if added:
        values["added_reviewers"] = [*request.added_reviewers, *added]
    notes = []
    target = None
    if step.route_to and step.route_to != request.loop_id:
        target = await batch.loop(step.route_to)
        if target is None:
            notes.append(f"loop {step.route_to} no longer exists; the request stays where it is")
        else:
            values["loop_id"] = target.id
    await request_store.update_pending(tx.conn, request.id, values)
    await deciders.escalated(tx.conn, request.id, added)
    tx.changed_requests.add(request.id)
    moved = await request_store.get_request(tx.conn, request.id)
    assert moved is not None
    batch.requests[moved.id] = moved
    tell = [*added, *(target.reviewers if target else ())]
    tx.record(
        "request.escalated",
        SYSTEM.actor(),
        {
            **data,
            "loop_id": moved.loop_id,
            "from_loop_id": request.loop_id,
            "level": level,
            "step": timer.step + 1,
            "after_seconds": step.after_seconds,
            "added_reviewers": added,
            "routed_to": target.id if target else None,
            "notes": notes,
        },
        request=moved,
        notify=tell,
    )


async def _time_out(batch: _Batch, request: Request, timer: Timer) -> None:
    if request.deadline_at is None or request.deadline_at > batch.tx.now:
        return  # the deadline moved later since this timer was written: never early
    await _end(batch, request, timer, None)


async def _stage_time_out(batch: _Batch, request: Request, timer: Timer) -> None:
    """A stage ran out of time: the request ends by its timeout action, as at its deadline.
    A timer whose stage the request has left (approved, or entered again since) does nothing."""
    index = int((timer.data or {}).get("stage", timer.step))
    if not 0 <= index < len(request.stages):
        return
    stage = request.stages[index].stage
    if plan.stage_ran_out(index, request.stage, stage, request.stage_started_at, batch.tx.now):
        await _end(batch, request, timer, index)


async def _end(batch: _Batch, request: Request, timer: Timer, stage: int | None) -> None:
    """End `request` by its timeout action; `stage`: the index of the stage that ran out."""
    tx = batch.tx
    loop = await batch.loop(request.loop_id)
    verdict = plan.on_timeout(
        request.timeout_action, approval_allowed=bool(loop and loop.allow_timeout_approval)
    )
    # Late-bound import: requests.py imports this module to plan timers at creation.
    from .requests import _leave_pending

    values: dict[str, Any] = {"decided_by": [SYSTEM_ON_TIMEOUT]}
    before = "the deadline"
    stages = request.stages
    if stage is not None:
        before = f"the timeout of stage {request.stages[stage].stage.name!r}"
        stages = mark_stage(request.stages, stage, StageStatus.ended)
        values["stages"] = stages_to_json(stages)
    if verdict.decision is not None:
        values.update(
            decision=verdict.decision.value,
            feedback=f"No decision before {before}: {verdict.decision.value} by the system.",
            final_content=request.content,
            edited=False,
        )
    if batch.careful:
        await _leave_pending(tx, request, verdict.status, values, drop_timers=False)
    else:
        if not can_transition(request.status, verdict.status):
            raise InvalidTransition(f"request {request.id} cannot become {verdict.status.value}")
        changed = {
            **values,
            "status": verdict.status.value,
            "updated_at": tx.now,
            "completed_at": tx.now,
        }
        batch.leaving.append((request.id, changed))
        tx.changed_requests.add(request.id)
    batch.decided.append(request.id)
    after = replace(
        request,
        status=verdict.status,
        decision=verdict.decision,
        feedback=values.get("feedback"),
        final_content=values.get("final_content"),
        decided_by=values["decided_by"],
        completed_at=tx.now,
        updated_at=tx.now,
        stages=stages,
    )
    batch.requests[after.id] = after
    snapshot = {
        **decision_snapshot(after),
        "timeout": True,
        "timeout_action": verdict.action.value,
        "deadline_at": rfc3339(request.deadline_at),
        "due_at": rfc3339(timer.due_at),
    }
    if stage is not None:
        ran_out = request.stages[stage].stage
        snapshot["stage"] = {
            "index": stage,
            "name": ran_out.name,
            "timeout_seconds": ran_out.timeout_seconds,
            "started_at": rfc3339(request.stage_started_at),
        }
    if verdict.note:
        snapshot["note"] = verdict.note
    event = "request.completed" if verdict.status is Status.completed else "request.timed_out"
    tx.record(event, SYSTEM.actor(), snapshot, request=after)
