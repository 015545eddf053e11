"""Dry run of a request on a loop: the same checks and rules as creating it, nothing written."""

from __future__ import annotations

from ..domain.model import Principal, Priority, RuleAction, TimeoutAction, User
from ..domain.rules import apply_rules, request_stages_from_json, stage_applies
from ..domain.simulation import Simulation, outcome_of, timeline
from ..domain.timers import TimerKind
from ..domain.timers import plan as plan_timers
from ..errors import NotFound
from ..store import loops as loop_store
from ..store import users as user_store
from .context import Context
from .requests import RequestDraft, _route, _row, _targets, draft_facts


async def simulate(
    ctx: Context, actor: Principal, loop_id: str, draft: RequestDraft
) -> tuple[Simulation, dict[str, User]]:
    """What creating `draft` on the loop would do; and the people it names, by id."""
    now = ctx.clock()
    async with ctx.db.read() as conn:
        loop = await loop_store.get_loop(conn, loop_id)
        if loop is None:
            raise NotFound(f"no loop with id {loop_id!r}")
        plan = apply_rules(loop.rules, draft_facts(draft))
        targets = await _targets(conn, loop, [plan])
        target = targets[_route(plan)]
        if target is not loop:  # `_targets` reads loops without their reviewers
            target = await loop_store.get_loop(conn, target.id) or target
        row = _row(ctx, target, draft, actor, now, "body", plan)  # every check of a create
        outcome = outcome_of(plan)
        stages = request_stages_from_json(row["stages"])
        # Every stage's condition read on the sample, as the request would be when reaching it.
        facts = draft_facts(draft, Priority(row["priority"]))
        applies = tuple(stage_applies(s.stage, facts) for s in stages)
        asked = target.reviewers if outcome == "pending" else ()
        people = await user_store.users_by_id(conn, list(asked))
    simulation = Simulation(
        loop_id=loop.id,
        routed_to=target.id if plan.action is RuleAction.route_to else None,
        outcome=outcome,
        plan=plan,
        priority=Priority(row["priority"]).value,
        required_approvals=row["required_approvals"],
        reviewers=asked,
        stages=stages,
        stage_applies=applies,
        timeout_seconds=row["timeout_seconds"],
        timeout_action=TimeoutAction(row["timeout_action"]),
    )
    # The scheduler's own timers, planned exactly as a create plans them (the timeout is
    # already in the timeline with its action).
    timers = [
        (t.kind.value, round((t.due_at - now).total_seconds()), t.data or {})
        for t in plan_timers(
            created_at=now,
            deadline_at=row["deadline_at"],
            pickup_deadline_at=row["pickup_deadline_at"],
            reminders=target.reminders,
            escalation=target.escalation,
        )
        if t.kind is not TimerKind.timeout
    ]
    simulation.timeline.extend(
        timeline(
            target,
            outcome,
            [s.stage for s, a in zip(stages, applies, strict=True) if a],
            simulation.timeout_seconds,
            simulation.timeout_action,
            now,
            timers if outcome == "pending" else (),
        )
    )
    return simulation, people
