"""A dry run: what a loop would do with a request, as data. Pure; the service gathers the input.

`timeline` lists what would happen and when, as seconds after creation. The scheduler's
reminders and escalations add their entries here, so that `POST /v1/loops/{id}/simulate` and the
loop admin page show them beside the timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from .model import Loop, RequestStage, RuleAction, Stage, TimeoutAction
from .rules import RulePlan

SimulatedOutcome = Literal["auto_approved", "auto_rejected", "pending"]


@dataclass(frozen=True)
class Simulation:
    loop_id: str  # the loop asked
    routed_to: str | None  # the loop a `route_to` rule sends it to
    outcome: SimulatedOutcome
    plan: RulePlan
    priority: str
    required_approvals: int
    reviewers: tuple[str, ...]  # the reviewers of the loop it goes to (none if a rule decides)
    stages: tuple[RequestStage, ...]
    stage_applies: tuple[bool, ...]  # for each stage, whether it would apply to this request
    timeout_seconds: int | None
    timeout_action: TimeoutAction
    timeline: list[dict[str, Any]] = field(default_factory=list)


def outcome_of(plan: RulePlan) -> SimulatedOutcome:
    if plan.action is RuleAction.auto_approve:
        return "auto_approved"
    if plan.action is RuleAction.auto_reject:
        return "auto_rejected"
    return "pending"


def timeline(
    target: Loop,
    outcome: str,
    stages: list[Stage],
    timeout_seconds: int | None,
    timeout_action: TimeoutAction,
    now: datetime,
    timers: Sequence[tuple[str, int, dict[str, Any]]] = (),
) -> list[dict[str, Any]]:
    """What happens when, from creation at `now`: each entry has `type` and `offset_seconds`
    (None when it depends on when a reviewer acts, as for a later stage's own timeout).
    `stages` are the ones that would apply, in order. `timers` adds the scheduler's own
    (reminders, escalation steps, the pickup clock) as (type, seconds after creation, details)."""

    def at(offset: int | None) -> dict[str, Any]:
        when = None if offset is None else (now + timedelta(seconds=offset))
        return {"offset_seconds": offset, "at": when}

    entries: list[dict[str, Any]] = [{"type": "created", **at(0)}]
    if outcome != "pending":
        entries.append({"type": "completed", "decision": outcome.removeprefix("auto_"), **at(0)})
        return entries
    for position, stage in enumerate(stages):
        if stage.timeout_seconds is None:
            continue
        # Only the first stage's clock starts at creation; a later one starts when it is reached.
        entries.append(
            {
                "type": "stage_timeout",
                "stage": stage.name,
                "seconds_after_stage_starts": stage.timeout_seconds,
                **at(stage.timeout_seconds if position == 0 else None),
            }
        )
    if timeout_seconds is not None:
        entries.append({"type": "timeout", "action": timeout_action.value, **at(timeout_seconds)})
    entries += [{"type": kind, **details, **at(offset)} for kind, offset, details in timers]
    return sorted(entries, key=lambda e: (e["offset_seconds"] is None, e["offset_seconds"] or 0))
