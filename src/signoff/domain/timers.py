"""Time on a request, as data: the timers a request gets and what a timeout does.

Two clocks run on each request: time to be picked up (first opened, claimed or voted on) and
time to be decided (`deadline_at`). Reminders are fractions of the time to be decided; an
escalation ladder counts seconds from creation; the timeout fires at the deadline. Pure: the
caller passes `created_at`, and the store writes the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .model import Decision, Stage, Status, TimeoutAction


class TimerKind(StrEnum):
    pickup = "pickup"
    reminder = "reminder"
    escalation = "escalation"
    timeout = "timeout"
    stage_timeout = "stage_timeout"  # the stage named in `data` ran out of time


@dataclass(frozen=True)
class EscalationStep:
    """One rung of a loop's escalation ladder: `after_seconds` from creation, do these."""

    after_seconds: int
    add_reviewers: tuple[str, ...] = ()
    route_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"after_seconds": self.after_seconds}
        if self.add_reviewers:
            out["add_reviewers"] = list(self.add_reviewers)
        if self.route_to:
            out["route_to"] = self.route_to
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> EscalationStep:
        return cls(
            int(value["after_seconds"]),
            tuple(value.get("add_reviewers") or ()),
            value.get("route_to"),
        )


@dataclass(frozen=True)
class PlannedTimer:
    """A timer to write: what fires, when, and what it needs to know then."""

    kind: TimerKind
    due_at: datetime
    step: int = 0
    data: dict[str, Any] | None = None


def plan(
    *,
    created_at: datetime,
    deadline_at: datetime | None,
    pickup_deadline_at: datetime | None,
    reminders: tuple[float, ...],
    escalation: tuple[EscalationStep, ...],
) -> list[PlannedTimer]:
    """Every timer of a new request, in the order they fall due."""
    timers: list[PlannedTimer] = []
    if pickup_deadline_at is not None:
        timers.append(PlannedTimer(TimerKind.pickup, pickup_deadline_at))
    if deadline_at is not None:
        span = deadline_at - created_at
        for i, fraction in enumerate(reminders):
            timers.append(
                PlannedTimer(
                    TimerKind.reminder, created_at + span * fraction, i, {"fraction": fraction}
                )
            )
        timers.append(PlannedTimer(TimerKind.timeout, deadline_at))
    for i, step in enumerate(escalation):
        due = created_at + timedelta(seconds=step.after_seconds)
        # A rung past the deadline would never matter: the request has timed out by then.
        if deadline_at is None or due < deadline_at:
            timers.append(PlannedTimer(TimerKind.escalation, due, i, step.to_json()))
    return sorted(timers, key=lambda t: t.due_at)


def stage_timer(index: int, stage: Stage, started_at: datetime | None) -> PlannedTimer | None:
    """The timer of a stage with a timeout, counted from when the request entered it."""
    if stage.timeout_seconds is None or started_at is None:
        return None
    return PlannedTimer(
        TimerKind.stage_timeout,
        started_at + timedelta(seconds=stage.timeout_seconds),
        index,
        {"stage": index, "name": stage.name},
    )


def stage_ran_out(
    index: int, current: int | None, stage: Stage, started_at: datetime | None, now: datetime
) -> bool:
    """Whether the timer of stage `index` times the request out at `now`: only while the
    request is still in that stage, and never before the stage's own time (a stage entered
    again, after new content restarted approval, counts from its new start)."""
    if current != index or stage.timeout_seconds is None or started_at is None:
        return False
    return started_at + timedelta(seconds=stage.timeout_seconds) <= now


def still_ahead(timers: list[PlannedTimer], now: datetime) -> list[PlannedTimer]:
    """After a deadline moves: the timers not yet due (timeouts are kept even if past)."""
    kept = (TimerKind.timeout, TimerKind.stage_timeout)
    return [t for t in timers if t.due_at > now or t.kind in kept]


@dataclass(frozen=True)
class TimeoutVerdict:
    """What the timeout does to a request: its new status, and the decision if any."""

    status: Status
    decision: Decision | None
    action: TimeoutAction
    note: str | None = None


def on_timeout(action: TimeoutAction, *, approval_allowed: bool) -> TimeoutVerdict:
    """Silence is not consent: approval only where the loop opts in (checked again here,
    since the loop may have changed its mind after the request was made)."""
    if action is TimeoutAction.reject:
        return TimeoutVerdict(Status.completed, Decision.rejected, action)
    if action is TimeoutAction.approve:
        if approval_allowed:
            return TimeoutVerdict(Status.completed, Decision.approved, action)
        return TimeoutVerdict(
            Status.timed_out,
            None,
            TimeoutAction.expire,
            "the loop no longer allows approval on timeout; the request expired instead",
        )
    return TimeoutVerdict(Status.timed_out, None, TimeoutAction.expire)


def backoff(attempts: int) -> timedelta:
    """How long a timer that failed to fire waits before the next try."""
    return timedelta(seconds=min(2 ** max(attempts, 0), 300))
