"""Use cases for review requests: create, read, list, update, cancel, wait for the decision."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.canonical import content_hash, dumps
from ..domain.ids import id_range, new_id
from ..domain.lifecycle import can_transition
from ..domain.model import (
    ContentType,
    Decision,
    Loop,
    Principal,
    Priority,
    Request,
    Role,
    RuleAction,
    StageStatus,
    Status,
    TimeoutAction,
)
from ..domain.responses import parse_spec
from ..domain.rules import (
    Fired,
    RulePlan,
    apply_rules,
    enter_next,
    facts_of,
    facts_of_request,
    rule_actor,
    stages_to_json,
    start_stages,
)
from ..domain.voting import may_review
from ..errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from ..store import loops as loop_store
from ..store import requests as store
from ..store import timers as timer_store
from ..store.db import Conn
from ..store.requests import RequestFilter, Visible
from . import assignments, timeouts
from .context import Context, Tx, transaction
from .views import decision_snapshot, request_snapshot


@dataclass(frozen=True)
class RequestDraft:
    """A new request as a workflow describes it (DESIGN.md §3)."""

    content: Any
    title: str | None = None
    content_type: ContentType = ContentType.text
    priority: Priority = Priority.normal
    context: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    ai_analysis: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    required_approvals: int | None = None
    requested_by: str | None = None
    timeout_seconds: int | None = None
    timeout_action: TimeoutAction | None = None  # None: the loop's default (expire)
    callback: dict[str, Any] | None = None
    previous_request_id: str | None = None


def review_url(ctx: Context, request_id: str) -> str:
    return f"{ctx.public_url.rstrip('/')}/requests/{request_id}"


def _check_metadata(ctx: Context, metadata: dict[str, Any], field_: str) -> None:
    size = len(dumps(metadata).encode())
    if size > ctx.limits.max_metadata_bytes:
        raise ValidationFailed.field(
            field_, f"is {size} bytes; the limit is {ctx.limits.max_metadata_bytes}"
        )


_NO_RULES = RulePlan()


def draft_facts(draft: RequestDraft, priority: Priority | None = None) -> dict[str, Any]:
    """What rule conditions see of a new request."""
    return facts_of(
        title=draft.title,
        content=draft.content,
        content_type=draft.content_type.value,
        context=draft.context,
        metadata=draft.metadata,
        ai_analysis=draft.ai_analysis,
        priority=(priority or draft.priority).value,
        requested_by=draft.requested_by,
    )


def _row(
    ctx: Context,
    loop: Loop,
    draft: RequestDraft,
    actor: Principal,
    now: datetime,
    where: str,
    plan: RulePlan = _NO_RULES,
) -> dict[str, Any]:
    """The stored row of a new request, after every check that needs no other rows.

    `loop` is where the request goes (a `route_to` rule's loop, if one fired); what the rules
    in `plan` set wins over the request's own settings: the rules are the loop admin's policy.
    """
    _check_metadata(ctx, draft.metadata, f"{where}.metadata")
    try:
        spec = parse_spec(draft.response)
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.detail.replace("body.", f"{where}.", 1),
            [type(e)(e.field.replace("body.", f"{where}.", 1), e.message) for e in exc.errors],
        ) from None
    action = draft.timeout_action or loop.default_timeout_action
    if action is TimeoutAction.approve and not loop.allow_timeout_approval:
        raise ValidationFailed.field(
            f"{where}.timeout_action",
            f"loop {loop.id} does not allow approval on timeout (allow_timeout_approval)",
        )
    timeout = plan.timeout_seconds or draft.timeout_seconds or loop.default_timeout_seconds
    pickup = loop.pickup_timeout_seconds
    priority = plan.priority or draft.priority
    approvals = plan.approvals or draft.required_approvals or loop.required_approvals
    stages: dict[str, Any] = {"stages": None, "stage": None, "stage_started_at": None}
    if loop.stages and plan.action not in (RuleAction.auto_approve, RuleAction.auto_reject):
        copied, first = start_stages(
            loop.stages, plan.approvals or draft.required_approvals, draft_facts(draft, priority)
        )
        assert first is not None  # a loop's stages always include one without `when`
        approvals = copied[first].stage.required_approvals
        stages = {"stages": stages_to_json(copied), "stage": first, "stage_started_at": now}
    callback, callback_auth = None, None
    if draft.callback:
        auth = draft.callback.get("auth")
        callback = {
            "url": draft.callback["url"],
            "events": draft.callback.get("events"),
            "auth_strategy": auth["strategy"] if auth else None,
        }
        callback_auth = auth
    return {
        "id": new_id("req", now),
        "loop_id": loop.id,
        "status": Status.pending.value,
        "title": draft.title,
        "content": draft.content,
        "content_type": draft.content_type.value,
        "content_hash": content_hash(draft.content, draft.context),
        "context": draft.context,
        "metadata": draft.metadata,
        "ai_analysis": draft.ai_analysis,
        "response_spec": spec.to_json(),
        "priority": priority.value,
        "required_approvals": approvals,
        "requested_by": draft.requested_by,
        "created_by_key_id": actor.key_id,
        "created_by_user_id": actor.user_id,
        "timeout_seconds": timeout,
        "timeout_action": action.value,
        "deadline_at": now + timedelta(seconds=timeout) if timeout else None,
        "pickup_deadline_at": now + timedelta(seconds=pickup) if pickup else None,
        "escalation_level": 0,
        "callback": callback,
        "callback_auth": callback_auth,
        "previous_request_id": draft.previous_request_id,
        "edited": False,
        "created_at": now,
        "updated_at": now,
        **stages,
    }


async def _check_callbacks(ctx: Context, drafts: list[RequestDraft], *, batch: bool) -> None:
    """Refuse callback URLs that point into the server's own network (each URL checked once)."""
    if ctx.check_url is None:
        return
    checked: set[str] = set()
    for i, draft in enumerate(drafts):
        url = (draft.callback or {}).get("url")
        if url and url not in checked:
            await ctx.check_url(
                url, f"body.items.{i}.callback.url" if batch else "body.callback.url"
            )
            checked.add(url)


async def _live_loop(conn: Conn, loop_id: str) -> Loop:
    loop = await loop_store.get_loop(conn, loop_id, reviewers=False)
    if loop is None:
        raise NotFound(f"no loop with id {loop_id!r}")
    return loop


async def create_requests(
    ctx: Context, actor: Principal, loop_id: str, drafts: list[RequestDraft], *, batch: bool
) -> list[Request]:
    """Create every request or none. Field paths in errors name the item (`body.items.3…`)."""
    await _check_callbacks(ctx, drafts, batch=batch)
    async with transaction(ctx) as tx:
        loop = await _live_loop(tx.conn, loop_id)
        where = [f"body.items.{i}" if batch else "body" for i in range(len(drafts))]
        plans = [apply_rules(loop.rules, draft_facts(d)) for d in drafts]
        targets = await _targets(tx.conn, loop, plans)
        rows = [
            _row(ctx, targets[_route(p)], d, actor, tx.now, w, p)
            for d, w, p in zip(drafts, where, plans, strict=True)
        ]
        previous = {d.previous_request_id for d in drafts if d.previous_request_id}
        missing = (
            previous - await store.existing_request_ids(tx.conn, previous) if previous else set()
        )
        for d, w in zip(drafts, where, strict=True):
            if d.previous_request_id in missing:
                raise ValidationFailed.field(
                    f"{w}.previous_request_id", f"no request with id {d.previous_request_id!r}"
                )
        created = await store.insert_requests(tx.conn, rows)
        # The timers of each request come from the loop it landed in (a `route_to` rule may
        # have moved it); a rule's own decision below drops them again.
        landed: dict[str, list[Request]] = {}
        for request in created:
            landed.setdefault(request.loop_id, []).append(request)
        for target in {t.id: t for t in targets.values()}.values():
            if target.id in landed:
                await timeouts.schedule_new(tx, landed[target.id], target)
        for i, (request, plan) in enumerate(zip(created, plans, strict=True)):
            data = request_snapshot(request)
            if loop.rules:
                data["rules"] = plan.to_json()
            if request.loop_id != loop.id:
                data["routed_from"] = loop.id
            tx.record("request.created", actor.actor(), data, request=request)
            if plan.decided_by and plan.action in _RULE_DECISIONS:
                created[i] = await _decide_by_rule(tx, request, plan.decided_by)
        # Then to reviewers, by the strategy of the loop each landed in; a request a rule
        # decided needs nobody.
        for target in {t.id: t for t in targets.values()}.values():
            waiting = [r for r in created if r.loop_id == target.id and r.is_pending]
            given = {r.id: r for r in await assignments.assign_new(tx, target, waiting)}
            created = [given.get(r.id, r) for r in created]
    return created


_RULE_DECISIONS = {
    RuleAction.auto_approve: Decision.approved,
    RuleAction.auto_reject: Decision.rejected,
}


def _route(plan: RulePlan) -> Fired | None:
    return plan.decided_by if plan.action is RuleAction.route_to else None


async def _targets(conn: Conn, loop: Loop, plans: list[RulePlan]) -> dict[Fired | None, Loop]:
    """The loop each request goes to: keyed by the `route_to` rule that fired, None for none."""
    targets: dict[Fired | None, Loop] = {None: loop}
    for plan in plans:
        fired = _route(plan)
        if fired is not None and fired not in targets:
            assert fired.rule.loop_id is not None
            # Routing is one hop: the target's rules are not read, so no cycle can form.
            targets[fired] = await _live_loop(conn, fired.rule.loop_id)
    return targets


async def _decide_by_rule(tx: Tx, request: Request, fired: Fired) -> Request:
    """Complete a new request as a rule says, through the one way out of `pending`."""
    decision = _RULE_DECISIONS[fired.rule.action]
    system = rule_actor(fired)
    await _leave_pending(
        tx,
        request,
        Status.completed,
        {
            "decision": decision.value,
            "feedback": f"{decision.value} by rule {fired.index}: {fired.rule.when}",
            "final_content": request.content,
            "edited": False,
            "decided_by": [system],
        },
    )
    request = await _load(tx.conn, request.id)
    tx.record(
        "request.completed",
        system,
        {**decision_snapshot(request), "rule": fired.to_json()},
        request=request,
    )
    return request


async def _load(conn: Conn, request_id: str, *, for_update: bool = False) -> Request:
    request = await store.get_request(conn, request_id, for_update=for_update)
    if request is None:
        raise NotFound(f"no request with id {request_id!r}")
    return request


async def check_can_read(conn: Conn, actor: Principal, request: Request, now: datetime) -> None:
    """Reviewers read the requests of their loops, those an escalation brought them to, and
    those they may decide (as assignee or delegate); a review link, its own request only."""
    if actor.link is not None:  # a review link shows its own request and nothing else
        if actor.link.request_id != request.id:
            raise Forbidden(f"this review link is not for request {request.id}")
        return
    if actor.role is Role.reviewer:
        loop = await loop_store.get_loop(conn, request.loop_id)
        if loop is None:
            raise Forbidden(f"you are not a reviewer of loop {request.loop_id}")
        if may_review(loop, actor, request.added_reviewers):
            return
        if not (await assignments.standing_on(conn, request, loop, actor, now)).allowed:
            raise Forbidden(f"you are not a reviewer of loop {request.loop_id}")


async def get_request(ctx: Context, actor: Principal, request_id: str) -> Request:
    async with ctx.db.read() as conn:
        now = ctx.clock()
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request, now)
        [request] = await assignments.with_assignment(conn, [request], now)
    return request


def _utc(moment: datetime | None) -> datetime | None:
    """A bound in UTC, as times are stored (SQLite compares them as text, zone left out). One
    that UTC cannot hold (year 0 or 10000) is left to the id bounds, which already say it all."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


async def list_requests(
    ctx: Context,
    actor: Principal,
    *,
    loop_id: str | None,
    status: Status | None,
    priority: Priority | None,
    created_after: datetime | None,
    created_before: datetime | None,
    cursor: str | None,
    limit: int,
    assignee: str | None = None,
) -> tuple[list[Request], str | None]:
    """One page, newest first, and the cursor of the next page (None on the last).

    `assignee` (a user id, or `me`) keeps the requests assigned to that person, as assignee or
    as delegate of one."""
    async with ctx.db.read() as conn:
        now = ctx.clock()
        loop_ids = [loop_id] if loop_id else None
        visible = None
        if actor.role is Role.reviewer:
            mine = await loop_store.list_loops(conn, None, 10_000, reviewer=actor.user_id)
            visible = Visible(
                actor.user_id or "",
                [lp.id for lp in mine],
                await assignments.acting_as(conn, actor.user_id or "", now),
            )
        assigned = None
        if assignee is not None:
            if assignee == "me":
                if actor.user_id is None:
                    raise ValidationFailed.field("query.assignee", "your key acts for no user")
                assignee = actor.user_id
            assigned = await assignments.acting_as(conn, assignee, now)
        min_id, max_id = id_range("req", created_after, created_before)
        where = RequestFilter(
            loop_ids=loop_ids,
            status=status,
            priority=priority.value if priority else None,
            created_after=_utc(created_after),
            created_before=_utc(created_before),
            min_id=min_id,
            max_id=max_id,
            visible=visible,
            assigned=assigned,
        )
        page = await store.list_requests(conn, where, cursor, limit + 1)
        page = await assignments.with_assignment(conn, page, now)
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].id if more else None)


async def update_request(
    ctx: Context, actor: Principal, request_id: str, changes: dict[str, Any]
) -> Request:
    """Change a pending request. New content or context voids the votes cast on the old."""
    async with transaction(ctx) as tx:
        before = await _load(tx.conn, request_id, for_update=True)
        if not before.is_pending:
            raise InvalidTransition(
                f"request {request_id} is {before.status.value}; only a pending request can change"
            )
        values: dict[str, Any] = {k: v for k, v in changes.items()}
        if "metadata" in values:
            _check_metadata(ctx, values["metadata"], "body.metadata")
        kind = before.content_type
        if kind is not ContentType.json and not isinstance(values.get("content", ""), str):
            raise ValidationFailed.field(
                "body.content", f"content of type {kind.value} must be a string"
            )
        if "priority" in values:
            values["priority"] = Priority(values["priority"]).value
        if "timeout_seconds" in values:
            timeout = values["timeout_seconds"]
            values["deadline_at"] = (
                before.created_at + timedelta(seconds=timeout) if timeout else None
            )
        new_hash = content_hash(
            values.get("content", before.content), values.get("context", before.context)
        )
        values["content_hash"] = new_hash
        await store.update_pending(tx.conn, request_id, {**values, "updated_at": tx.now})
        request = await _load(tx.conn, request_id)
        if "timeout_seconds" in values:
            await timeouts.reschedule(tx, request)
        if request.stage is not None and new_hash != before.content_hash:
            request = await _restart_stages(tx, request)
        tx.record(
            "request.updated",
            actor.actor(),
            {**request_snapshot(request), "changed": sorted(changes)},
            request=request,
        )
        if new_hash != before.content_hash:
            voided = await store.void_votes(tx.conn, request_id, tx.now)
            if voided:
                tx.record(
                    "request.votes_voided",
                    actor.actor(),
                    {
                        "request_id": request_id,
                        "loop_id": request.loop_id,
                        "status": request.status.value,
                        "metadata": request.metadata,
                        "voided": voided,
                        "old_content_hash": before.content_hash,
                        "content_hash": new_hash,
                    },
                    request=request,
                )
        tx.changed_requests.add(request_id)
        [request] = await assignments.with_assignment(tx.conn, [request], tx.now)
    return request


async def _restart_stages(tx: Tx, request: Request) -> Request:
    """New content voids the votes of every stage, so approval starts again at the first stage:
    an approval given at an earlier stage was for content that is no longer there."""
    fresh = tuple(replace(s, status=StageStatus.waiting) for s in request.stages)
    stages, first = enter_next(fresh, -1, facts_of_request(request))
    assert first is not None
    await store.update_pending(
        tx.conn,
        request.id,
        {
            "stages": stages_to_json(stages),
            "stage": first,
            "stage_started_at": tx.now,
            "required_approvals": stages[first].stage.required_approvals,
        },
    )
    restarted = await _load(tx.conn, request.id)
    await timeouts.stage_entered(tx, restarted)
    if first != request.stage:  # back at the first stage: its reviewers are asked again
        loop = await loop_store.get_loop(tx.conn, request.loop_id, reviewers=False)
        if loop is not None:
            await assignments.assign_stage(tx, loop, restarted, ())
    return restarted


async def cancel_request(
    ctx: Context, actor: Principal, request_id: str, reason: str | None
) -> Request:
    async with transaction(ctx) as tx:
        request = await _load(tx.conn, request_id, for_update=True)
        await _leave_pending(tx, request, Status.cancelled, {"feedback": reason})
        request = await _load(tx.conn, request_id)
        tx.record(
            "request.cancelled",
            actor.actor(),
            {
                "request_id": request_id,
                "loop_id": request.loop_id,
                "status": request.status.value,
                "reason": reason,
                "metadata": request.metadata,
            },
            request=request,
        )
        [request] = await assignments.with_assignment(tx.conn, [request], tx.now)
    return request


async def _leave_pending(
    tx: Tx, request: Request, to: Status, values: dict[str, Any], *, drop_timers: bool = True
) -> None:
    """The one way out of `pending`: guarded by the state machine and by the database.

    `drop_timers=False`: the scheduler, which drops the timers of a whole batch at once."""
    if not can_transition(request.status, to):
        raise InvalidTransition(
            f"request {request.id} is {request.status.value}; it cannot become {to.value}"
        )
    moved = await store.update_pending(
        tx.conn,
        request.id,
        {**values, "status": to.value, "updated_at": tx.now, "completed_at": tx.now},
    )
    if not moved:
        raise InvalidTransition(f"request {request.id} was decided by someone else first")
    tx.changed_requests.add(request.id)
    if drop_timers:
        await timer_store.cancel_timers(tx.conn, [request.id])  # nothing left for them to do


async def wait_for_response(
    ctx: Context, actor: Principal, request_id: str, wait: float
) -> Request:
    """The request now, or as soon as it leaves `pending` within `wait` seconds."""
    with ctx.notifier.subscribe(request_id) as changed:
        request = await get_request(ctx, actor, request_id)
        deadline = asyncio.get_running_loop().time() + wait
        while request.is_pending:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
            changed.clear()
            request = await get_request(ctx, actor, request_id)
    return request
