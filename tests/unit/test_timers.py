"""The timer plan of a request and what a timeout does: pure rules, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signoff.domain.model import Decision, Stage, Status, TimeoutAction
from signoff.domain.timers import (
    EscalationStep,
    TimerKind,
    on_timeout,
    plan,
    stage_ran_out,
    stage_timer,
    still_ahead,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_every_timer_of_a_request_in_the_order_it_falls_due() -> None:
    planned = plan(
        created_at=T0,
        deadline_at=s(100),
        pickup_deadline_at=s(20),
        reminders=(0.5, 0.9),
        escalation=(
            EscalationStep(30, ("usr_bob",)),
            EscalationStep(60, route_to="loop_b"),
            EscalationStep(100, ("usr_carl",)),  # at the deadline: never matters, left out
        ),
    )
    assert [(t.kind, t.due_at) for t in planned] == [
        (TimerKind.pickup, s(20)),
        (TimerKind.escalation, s(30)),
        (TimerKind.reminder, s(50)),
        (TimerKind.escalation, s(60)),
        (TimerKind.reminder, s(90)),
        (TimerKind.timeout, s(100)),
    ]
    assert planned[3].data == {"after_seconds": 60, "route_to": "loop_b"}
    assert planned[2].data == {"fraction": 0.5}


def test_no_deadline_means_no_reminders_and_no_timeout() -> None:
    planned = plan(
        created_at=T0,
        deadline_at=None,
        pickup_deadline_at=None,
        reminders=(0.5,),
        escalation=(EscalationStep(3600, ("usr_bob",)),),
    )
    assert [t.kind for t in planned] == [TimerKind.escalation]


def test_a_moved_deadline_keeps_what_is_ahead_and_the_timeout_even_if_past() -> None:
    planned = plan(
        created_at=T0,
        deadline_at=s(10),
        pickup_deadline_at=None,
        reminders=(0.5,),
        escalation=(),
    )
    assert [t.kind for t in still_ahead(planned, s(20))] == [TimerKind.timeout]


@pytest.mark.parametrize(
    ("action", "allowed", "status", "decision", "taken"),
    [
        (TimeoutAction.expire, True, Status.timed_out, None, TimeoutAction.expire),
        (TimeoutAction.reject, False, Status.completed, Decision.rejected, TimeoutAction.reject),
        (TimeoutAction.approve, True, Status.completed, Decision.approved, TimeoutAction.approve),
        # Silence is not consent: without the loop's opt-in, approval becomes expiry.
        (TimeoutAction.approve, False, Status.timed_out, None, TimeoutAction.expire),
    ],
)
def test_what_a_timeout_does(
    action: TimeoutAction,
    allowed: bool,
    status: Status,
    decision: Decision | None,
    taken: TimeoutAction,
) -> None:
    verdict = on_timeout(action, approval_allowed=allowed)
    assert (verdict.status, verdict.decision, verdict.action) == (status, decision, taken)
    assert (verdict.note is not None) == (action is not taken)


def test_a_stage_timer_counts_from_when_the_stage_started_and_fires_only_in_that_stage() -> None:
    lead = Stage("lead", timeout_seconds=60)
    timer = stage_timer(0, lead, s(10))
    assert timer is not None
    assert (timer.kind, timer.due_at, timer.step) == (TimerKind.stage_timeout, s(70), 0)
    assert timer.data == {"stage": 0, "name": "lead"}
    assert stage_timer(0, Stage("lead"), s(10)) is None  # no timeout: no timer
    assert stage_ran_out(0, 0, lead, s(10), s(70))
    assert not stage_ran_out(0, 0, lead, s(10), s(69))  # never early
    assert not stage_ran_out(0, 1, lead, s(10), s(500))  # the request moved on
    assert not stage_ran_out(0, 0, lead, s(40), s(70))  # entered again later: counts from then
    assert still_ahead([timer], s(100)) == [timer]  # a past stage timeout is kept when replanned
