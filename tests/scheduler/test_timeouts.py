"""Timeouts, reminders, pickup and escalation, with a clock the test moves (SQLite and PostgreSQL).

Each firing is checked for what it must be: never before its time (the clock stops one second
short first), recorded as the system's, with its event, and once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from signoff.service import timeouts
from signoff.service.context import Context
from tests.api.test_errors import assert_problem
from tests.conftest import Api

from .conftest import Clock, ask, new_loop, of_type, read, request_events, types

Later = Callable[[float], Awaitable[None]]
SYSTEM = {"type": "system", "name": "system"}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_request_nobody_answers_expires_at_its_deadline_not_before(
    api: Api, later: Later, clock: Clock
) -> None:
    loop = await new_loop(api, default_timeout_seconds=60)
    request = await ask(api, loop["id"])
    assert request["timeout_action"] == "expire"
    assert at(request["deadline_at"]) == clock() + timedelta(seconds=60)
    waiting = asyncio.create_task(
        api.as_("requester", "GET", f"/v1/requests/{request['id']}/response", params={"wait": 30})
    )
    await later(59)
    assert (await read(api, request["id"]))["status"] == "pending"
    assert not waiting.done()
    await later(1)
    answer = (await asyncio.wait_for(waiting, 10)).json()  # the long-poll wakes on the timeout
    assert (answer["status"], answer["decision"]) == ("timed_out", None)
    after = await read(api, request["id"])
    assert (after["status"], after["completed_at"]) == ("timed_out", request["deadline_at"])
    events = await request_events(api, request["id"])
    assert types(events) == ["request.created", "request.timed_out"]
    timed_out = events[-1]
    assert timed_out["actor"] == SYSTEM
    assert at(timed_out["occurred_at"]) == at(request["deadline_at"])
    assert timed_out["data"]["timeout_action"] == "expire"
    assert timed_out["data"]["decided_by"] == [{**SYSTEM, "reason": "timeout"}]
    await later(3600)
    assert types(await request_events(api, request["id"])).count("request.timed_out") == 1


async def test_reject_on_timeout_is_a_decision_by_the_system(api: Api, later: Later) -> None:
    loop = await new_loop(api)
    request = await ask(api, loop["id"], timeout_seconds=30, timeout_action="reject")
    await later(30)
    after = await read(api, request["id"])
    assert (after["status"], after["decision"]) == ("completed", "rejected")
    assert after["decided_by"] == [{**SYSTEM, "reason": "timeout"}]
    [completed] = [
        e for e in await request_events(api, request["id"]) if e["type"] != "request.created"
    ]
    assert completed["type"] == "request.completed"
    assert completed["actor"] == SYSTEM
    assert (completed["data"]["timeout"], completed["data"]["decision"]) == (True, "rejected")


async def test_approve_on_timeout_only_where_the_loop_opts_in(api: Api, later: Later) -> None:
    closed = await new_loop(api, name="closed")
    r = await api.as_(
        "requester",
        "POST",
        f"/v1/loops/{closed['id']}/requests",
        json={"content": "x", "timeout_seconds": 30, "timeout_action": "approve"},
    )
    assert_problem(r, 422, fields=["body.timeout_action"])
    r = await api.as_(
        "admin", "POST", "/v1/loops", json={"name": "lax", "default_timeout_action": "approve"}
    )
    assert_problem(r, 422, fields=["body.default_timeout_action"])

    opted = await new_loop(
        api, name="opted", allow_timeout_approval=True, default_timeout_action="approve"
    )
    request = await ask(api, opted["id"], timeout_seconds=30)
    assert request["timeout_action"] == "approve"  # the loop's default
    await later(30)
    after = await read(api, request["id"])
    assert (after["status"], after["decision"]) == ("completed", "approved")
    assert after["decided_by"] == [{**SYSTEM, "reason": "timeout"}]
    r = await api.as_("requester", "GET", f"/v1/requests/{request['id']}/response")
    assert r.json()["decided_by"] == [{**SYSTEM, "reason": "timeout"}]


async def test_a_loop_that_withdraws_approval_on_timeout_gets_expiry_instead(
    api: Api, later: Later
) -> None:
    loop = await new_loop(api, allow_timeout_approval=True)
    request = await ask(api, loop["id"], timeout_seconds=30, timeout_action="approve")
    r = await api.as_(
        "admin", "PATCH", f"/v1/loops/{loop['id']}", json={"allow_timeout_approval": False}
    )
    assert r.status_code == 200, r.text
    await later(30)
    after = await read(api, request["id"])
    assert (after["status"], after["decision"]) == ("timed_out", None)
    [event] = await of_type(api, "request.timed_out")
    assert "no longer allows" in event["data"]["note"]


async def test_reminders_at_half_and_ninety_percent_of_the_deadline(
    api: Api, later: Later, clock: Clock
) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann], default_timeout_seconds=100, reminders=[0.5, 0.9])
    assert loop["reminders"] == [0.5, 0.9]
    created = clock()
    request = await ask(api, loop["id"])
    await later(49)
    assert await of_type(api, "request.reminder") == []
    await later(1)
    [first] = await of_type(api, "request.reminder")
    assert at(first["occurred_at"]) == created + timedelta(seconds=50)
    assert first["actor"] == SYSTEM
    assert (first["request_id"], first["data"]["fraction"]) == (request["id"], 0.5)
    assert at(first["data"]["deadline_at"]) == at(request["deadline_at"])
    await later(40)
    reminders = await of_type(api, "request.reminder")
    assert [e["data"]["fraction"] for e in reminders] == [0.5, 0.9]
    assert at(reminders[1]["occurred_at"]) == created + timedelta(seconds=90)
    assert (await read(api, request["id"]))["status"] == "pending"


async def test_reminders_must_be_rising_fractions(api: Api) -> None:
    for bad, field in (([0.9, 0.5], "body.reminders"), ([1.5], "body.reminders.0")):
        r = await api.as_("admin", "POST", "/v1/loops", json={"name": "r", "reminders": bad})
        assert_problem(r, 422, fields=[field])


async def test_a_two_step_escalation_adds_reviewers_then_routes_to_another_loop(
    api: Api, later: Later
) -> None:
    ann, bob, carl = [await api.add_reviewer(n) for n in ("ann", "bob", "carl")]
    finance = await new_loop(api, name="finance", reviewers=[carl])
    loop = await new_loop(
        api,
        name="team",
        reviewers=[ann],
        default_timeout_seconds=3600,
        escalation=[
            {"after_seconds": 600, "add_reviewers": [bob]},
            {"after_seconds": 1200, "route_to": finance["id"]},
        ],
    )
    request = await ask(api, loop["id"])
    r = await api.as_("bob", "GET", f"/v1/requests/{request['id']}")
    assert r.status_code == 403  # not his yet

    await later(599)
    assert await of_type(api, "request.escalated") == []
    await later(1)
    [first] = await of_type(api, "request.escalated")
    assert first["actor"] == SYSTEM
    assert (first["data"]["level"], first["data"]["added_reviewers"]) == (1, [bob])
    assert first["data"]["routed_to"] is None
    now = await read(api, request["id"], "bob")  # bob may read it now
    assert (now["status"], now["escalation_level"], now["added_reviewers"]) == ("pending", 1, [bob])

    await later(600)
    escalated = await of_type(api, "request.escalated")
    assert [e["data"]["level"] for e in escalated] == [1, 2]
    second = escalated[1]
    assert (second["data"]["from_loop_id"], second["data"]["routed_to"]) == (
        loop["id"],
        finance["id"],
    )
    assert second["loop_id"] == finance["id"]
    moved = await read(api, request["id"], "carl")
    assert (moved["status"], moved["loop_id"], moved["escalation_level"]) == (
        "pending",
        finance["id"],
        2,
    )
    # carl, of the loop it moved to, decides it
    r = await api.as_(
        "carl", "POST", f"/v1/requests/{request['id']}/decisions", json={"decision": "approve"}
    )
    assert r.status_code == 201, r.text
    assert (await read(api, request["id"]))["decision"] == "approved"


async def test_an_escalation_ladder_is_checked_when_saved(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, name="x")
    cases = [
        ([{"after_seconds": 60}], "body.escalation.0"),
        (
            [{"after_seconds": 60, "add_reviewers": ["usr_nobody"]}],
            "body.escalation.0.add_reviewers",
        ),
        ([{"after_seconds": 60, "route_to": "loop_nowhere"}], "body.escalation.0.route_to"),
        ([{"after_seconds": 60, "route_to": loop["id"]}], "body.escalation.0.route_to"),
        (
            [
                {"after_seconds": 60, "add_reviewers": [ann]},
                {"after_seconds": 30, "add_reviewers": [ann]},
            ],
            "body.escalation.1.after_seconds",
        ),
    ]
    for ladder, field in cases:
        r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"escalation": ladder})
        assert_problem(r, 422, fields=[field])
    assert (await api.as_("admin", "GET", f"/v1/loops/{loop['id']}")).json()["escalation"] == []


async def test_a_request_decided_before_its_deadline_never_fires(
    api: Api, later: Later, ctx: Context
) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(
        api,
        reviewers=[ann],
        default_timeout_seconds=60,
        reminders=[0.5],
        pickup_timeout_seconds=20,
        escalation=[{"after_seconds": 40, "add_reviewers": [ann]}],
    )
    request = await ask(api, loop["id"])
    assert len(await timeouts.timers_of(ctx, request["id"])) == 4
    await later(10)
    r = await api.as_(
        "ann", "POST", f"/v1/requests/{request['id']}/decisions", json={"decision": "approve"}
    )
    assert r.status_code == 201, r.text
    assert await timeouts.timers_of(ctx, request["id"]) == []  # the decision dropped them
    await later(120)
    assert types(await request_events(api, request["id"])) == [
        "request.created",
        "request.vote",
        "request.completed",
    ]
    after = await read(api, request["id"])
    assert (after["decision"], after["decided_by"][0]["user_id"]) == ("approved", ann)


async def test_the_pickup_clock_stops_when_someone_picks_the_request_up(
    api: Api, later: Later
) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop = await new_loop(
        api, reviewers=[ann, bob], required_approvals=2, pickup_timeout_seconds=300
    )
    picked = await ask(api, loop["id"])
    ignored = await ask(api, loop["id"])
    await later(100)
    r = await api.as_(
        "ann", "POST", f"/v1/requests/{picked['id']}/decisions", json={"decision": "approve"}
    )
    assert r.status_code == 201, r.text
    assert (await read(api, picked["id"]))["picked_up_at"] is not None
    await later(199)
    assert await of_type(api, "request.pickup_overdue") == []
    await later(1)
    [overdue] = await of_type(api, "request.pickup_overdue")
    assert overdue["request_id"] == ignored["id"]
    assert (await read(api, ignored["id"]))["status"] == "pending"  # late, not decided


async def test_a_claim_stops_the_pickup_clock_too(api: Api, later: Later) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann], pickup_timeout_seconds=300)
    claimed = await ask(api, loop["id"])
    await later(100)
    r = await api.as_("ann", "POST", f"/v1/requests/{claimed['id']}/claim")
    assert r.status_code == 200, r.text
    assert (await read(api, claimed["id"]))["picked_up_at"] is not None
    await later(300)
    assert await of_type(api, "request.pickup_overdue") == []


async def test_a_new_timeout_moves_the_deadline_and_its_timer(api: Api, later: Later) -> None:
    loop = await new_loop(api)
    request = await ask(api, loop["id"], timeout_seconds=60)
    await later(10)
    r = await api.as_(
        "requester", "PATCH", f"/v1/requests/{request['id']}", json={"timeout_seconds": 300}
    )
    assert r.status_code == 200, r.text
    await later(100)
    assert (await read(api, request["id"]))["status"] == "pending"
    await later(190)
    assert (await read(api, request["id"]))["status"] == "timed_out"
    assert types(await request_events(api, request["id"])).count("request.timed_out") == 1
