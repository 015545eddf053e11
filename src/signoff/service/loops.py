"""Use cases for loops."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from ..domain.ids import new_id
from ..domain.model import (
    AssignmentStrategy,
    Loop,
    Principal,
    Rule,
    RuleAction,
    Stage,
    TimeoutAction,
)
from ..domain.rules import parse_rules, parse_stages
from ..domain.timers import EscalationStep
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
    default_timeout_action: TimeoutAction = TimeoutAction.expire
    pickup_timeout_seconds: int | None = None
    reminders: tuple[float, ...] = ()
    escalation: tuple[EscalationStep, ...] = ()
    # As the API takes them: lists of objects, checked by domain/rules.py.
    rules: tuple[dict[str, Any], ...] = ()
    stages: tuple[dict[str, Any], ...] = ()
    assignment: AssignmentStrategy = AssignmentStrategy.open


TIME_FIELDS = ("default_timeout_action", "pickup_timeout_seconds", "reminders", "escalation")


async def _time_values(
    conn: Any, loop_id: str, changes: dict[str, Any], allow_timeout_approval: bool
) -> dict[str, Any]:
    """Check the time settings among `changes` and give them as stored (issue 5, time)."""
    values: dict[str, Any] = {}
    if "default_timeout_action" in changes:
        action = TimeoutAction(changes["default_timeout_action"] or TimeoutAction.expire)
        values["default_timeout_action"] = action.value
    action = TimeoutAction(values.get("default_timeout_action") or TimeoutAction.expire)
    if action is TimeoutAction.approve and not allow_timeout_approval:
        raise ValidationFailed.field(
            "body.default_timeout_action",
            "approve needs allow_timeout_approval: silence is not consent unless the loop says so",
        )
    if "pickup_timeout_seconds" in changes:
        values["pickup_timeout_seconds"] = changes["pickup_timeout_seconds"]
    if "reminders" in changes:
        reminders = list(changes["reminders"] or ())
        if any(b <= a for a, b in itertools.pairwise(reminders)):
            raise ValidationFailed.field("body.reminders", "fractions must rise: [0.5, 0.9]")
        values["reminders"] = reminders or None
    if "escalation" in changes:
        steps = [
            s if isinstance(s, EscalationStep) else EscalationStep.from_json(s)
            for s in changes["escalation"] or ()
        ]
        await _check_escalation(conn, loop_id, steps)
        values["escalation"] = [s.to_json() for s in steps] or None
    return values


async def _check_escalation(conn: Any, loop_id: str, steps: list[EscalationStep]) -> None:
    for i, step in enumerate(steps):
        where = f"body.escalation.{i}"
        if i and step.after_seconds <= steps[i - 1].after_seconds:
            raise ValidationFailed.field(
                f"{where}.after_seconds", "each step must come after the one before"
            )
        if not step.add_reviewers and not step.route_to:
            raise ValidationFailed.field(where, "a step needs add_reviewers or route_to")
        unknown = set(step.add_reviewers) - await user_store.existing_user_ids(
            conn, list(step.add_reviewers)
        )
        if unknown:
            raise ValidationFailed.field(
                f"{where}.add_reviewers", f"no such user: {', '.join(sorted(unknown))}"
            )
        if step.route_to == loop_id:
            raise ValidationFailed.field(f"{where}.route_to", "a loop cannot escalate to itself")
        if step.route_to and await store.get_loop(conn, step.route_to, reviewers=False) is None:
            raise ValidationFailed.field(f"{where}.route_to", f"no loop with id {step.route_to!r}")


async def _checked_rules(conn: Any, raw: list[dict[str, Any]], loop_id: str | None) -> list[Rule]:
    """Rules that compile and name live loops other than their own."""
    rules = parse_rules(raw)
    targets = {r.loop_id for r in rules if r.action is RuleAction.route_to and r.loop_id}
    live = await store.live_loop_ids(conn, targets) if targets else set()
    for i, rule in enumerate(rules):
        if rule.action is not RuleAction.route_to:
            continue
        if rule.loop_id == loop_id:
            raise ValidationFailed.field(
                f"body.rules.{i}.loop_id", "a loop cannot route requests to itself"
            )
        if rule.loop_id not in live:
            raise ValidationFailed.field(f"body.rules.{i}.loop_id", f"no loop {rule.loop_id!r}")
    return list(rules)


def _checked_stages(raw: list[dict[str, Any]], reviewers: tuple[str, ...]) -> list[Stage]:
    return list(parse_stages(raw, reviewers))


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
        rules = await _checked_rules(tx.conn, list(draft.rules), None)
        stages = _checked_stages(list(draft.stages), draft.reviewers)
        loop_id = new_id("loop", tx.now)
        timing = await _time_values(
            tx.conn,
            loop_id,
            {name: getattr(draft, name) for name in TIME_FIELDS},
            draft.allow_timeout_approval,
        )
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
                **timing,
                "rules": [r.to_json() for r in rules],
                "stages": [s.to_json() for s in stages],
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


async def find_loop(ctx: Context, ref: str) -> Loop:
    """A live loop by its id (`loop_…`) or its name."""
    async with ctx.db.read() as conn:
        loop = await store.get_loop(conn, ref) if ref.startswith("loop_") else None
        loop = loop or await store.get_loop_by_name(conn, ref)
    if loop is None:
        raise NotFound(f"no loop with id or name {ref!r}")
    return loop


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
        values = {k: v for k, v in changes.items() if k != "reviewers" and k not in TIME_FIELDS}
        allow = changes.get("allow_timeout_approval", before.allow_timeout_approval)
        time_changes = {k: v for k, v in changes.items() if k in TIME_FIELDS}
        if "default_timeout_action" not in time_changes:
            time_changes["default_timeout_action"] = before.default_timeout_action
        values.update(await _time_values(tx.conn, loop_id, time_changes, bool(allow)))
        reviewers = before.reviewers
        if "reviewers" in changes:
            reviewers = tuple(changes["reviewers"])
            await _check_reviewers(tx.conn, reviewers)
            await store.set_reviewers(tx.conn, loop_id, list(reviewers))
        if "rules" in changes:
            rules = await _checked_rules(tx.conn, changes["rules"], loop_id)
            values["rules"] = [r.to_json() for r in rules]
        if "stages" in changes:
            values["stages"] = [s.to_json() for s in _checked_stages(changes["stages"], reviewers)]
        elif "reviewers" in changes:
            _check_stage_reviewers(before, reviewers)
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


def _check_stage_reviewers(loop: Loop, reviewers: tuple[str, ...]) -> None:
    for stage in loop.stages:
        gone = [r for r in stage.reviewers if r not in reviewers]
        if gone:
            raise ValidationFailed.field(
                "body.reviewers",
                f"{', '.join(gone)} reviews stage {stage.name!r}; change the stages first",
            )


async def delete_loop(ctx: Context, actor: Principal, loop_id: str) -> None:
    async with transaction(ctx) as tx:
        loop = await _get(tx.conn, loop_id)
        if await store.has_pending_requests(tx.conn, loop_id):
            raise Conflict(f"loop {loop_id} has pending requests; cancel or decide them first")
        routing = await store.loops_routing_to(tx.conn, loop_id)
        if routing:
            raise Conflict(
                f"the rules of loop {', '.join(routing)} route requests to loop {loop_id};"
                " change them first"
            )
        await store.delete_loop(tx.conn, loop_id, tx.now)
        tx.record("loop.deleted", actor.actor(), loop_snapshot(loop), loop_id=loop_id)
