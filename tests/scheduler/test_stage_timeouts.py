"""Stage timeouts, with a clock the test moves (SQLite and PostgreSQL).

A stage with `timeout_seconds` gets a timer when the request enters it; when it fires while the
request is still in that stage, the request ends by its timeout action, recorded as the
system's with the stage named. A stage approved in time never fires, and the next stage's
timeout counts from when that stage started.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from signoff.domain.timers import TimerKind
from signoff.service import timeouts
from signoff.service.context import Context
from signoff.store import timers as timer_store
from tests.conftest import Api

from .conftest import Clock, ask, new_loop, read, request_events, types

Later = Callable[[float], Awaitable[None]]
SYSTEM = {"type": "system", "name": "system"}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _staged(api: Api, **loop: Any) -> tuple[dict[str, Any], dict[str, str]]:
    people = {n: await api.add_reviewer(n) for n in ("ann", "bob")}
    stages = [
        {"name": "lead", "reviewers": [people["ann"]], "timeout_seconds": 60},
        {"name": "finance", "reviewers": [people["bob"]], "timeout_seconds": 120},
    ]
    made = await new_loop(api, reviewers=list(people.values()), stages=stages, **loop)
    return made, people


async def _stage_timers(ctx: Context, request_id: str) -> list[tuple[int, datetime]]:
    return [
        (t.step, t.due_at)
        for t in await timeouts.timers_of(ctx, request_id)
        if t.kind is TimerKind.stage_timeout
    ]


@pytest.mark.parametrize(
    ("action", "status", "decision", "event"),
    [
        ("expire", "timed_out", None, "request.timed_out"),
        ("reject", "completed", "rejected", "request.completed"),
        ("approve", "completed", "approved", "request.completed"),
    ],
)
async def test_a_stage_that_runs_out_of_time_ends_the_request_by_its_timeout_action(
    api: Api,
    ctx: Context,
    later: Later,
    clock: Clock,
    action: str,
    status: str,
    decision: str | None,
    event: str,
) -> None:
    loop, _ = await _staged(api, allow_timeout_approval=True)
    created = clock()
    request = await ask(api, loop["id"], timeout_action=action)
    assert request["deadline_at"] is None  # no request deadline: only the stage's clock runs
    assert await _stage_timers(ctx, request["id"]) == [(0, created + timedelta(seconds=60))]

    await later(59)
    assert (await read(api, request["id"]))["status"] == "pending"
    await later(1)
    after = await read(api, request["id"])
    assert (after["status"], after["decision"]) == (status, decision)
    assert after["decided_by"] == [{**SYSTEM, "reason": "timeout"}]
    assert [s["status"] for s in after["stages"]] == ["ended", "waiting"]
    assert at(after["completed_at"]) == created + timedelta(seconds=60)

    events = await request_events(api, request["id"])
    assert types(events) == ["request.created", event]
    ended = events[-1]
    assert ended["actor"] == SYSTEM
    assert ended["data"]["timeout"] is True
    assert ended["data"]["timeout_action"] == action
    named = ended["data"]["stage"]
    assert at(named.pop("started_at")) == created
    assert named == {"index": 0, "name": "lead", "timeout_seconds": 60}
    assert await timeouts.timers_of(ctx, request["id"]) == []
    await later(3600)  # the second stage was never entered: nothing more fires
    assert types(await request_events(api, request["id"])) == ["request.created", event]


async def test_approval_on_a_stage_timeout_only_where_the_loop_still_allows_it(
    api: Api, later: Later
) -> None:
    loop, _ = await _staged(api, allow_timeout_approval=True)
    request = await ask(api, loop["id"], timeout_action="approve")
    r = await api.as_(
        "admin", "PATCH", f"/v1/loops/{loop['id']}", json={"allow_timeout_approval": False}
    )
    assert r.status_code == 200, r.text
    await later(60)
    after = await read(api, request["id"])
    assert (after["status"], after["decision"]) == ("timed_out", None)
    [_, ended] = await request_events(api, request["id"])
    assert ended["type"] == "request.timed_out"
    assert ended["data"]["timeout_action"] == "expire"
    assert "no longer allows" in ended["data"]["note"]
    assert ended["data"]["stage"]["name"] == "lead"


async def test_a_stage_approved_in_time_never_times_out_and_the_next_counts_from_its_start(
    api: Api, ctx: Context, later: Later, clock: Clock
) -> None:
    loop, _ = await _staged(api)
    request = await ask(api, loop["id"], timeout_action="reject")
    await later(50)
    entered = clock()
    r = await api.as_(
        "ann", "POST", f"/v1/requests/{request['id']}/decisions", json={"decision": "approve"}
    )
    assert r.status_code == 201, r.text
    now = await read(api, request["id"])
    assert now["stage"] == "finance"
    # The lead stage's timer is gone; finance's runs 120 s from when finance started.
    assert await _stage_timers(ctx, request["id"]) == [(1, entered + timedelta(seconds=120))]

    await later(10)  # past the lead stage's 60 s: it does not fire
    await later(109)  # 1 s short of finance's timeout
    assert (await read(api, request["id"]))["status"] == "pending"
    assert types(await request_events(api, request["id"])) == [
        "request.created",
        "request.vote",
        "request.stage_completed",
    ]
    await later(1)
    after = await read(api, request["id"])
    assert (after["status"], after["decision"]) == ("completed", "rejected")
    assert [s["status"] for s in after["stages"]] == ["approved", "ended"]
    assert at(after["completed_at"]) == entered + timedelta(seconds=120)
    ended = (await request_events(api, request["id"]))[-1]
    assert (ended["type"], ended["actor"]) == ("request.completed", SYSTEM)
    assert ended["data"]["stage"]["name"] == "finance"
    assert "stage 'finance'" in ended["data"]["feedback"]


async def test_a_timer_whose_stage_has_passed_does_nothing(
    api: Api, ctx: Context, later: Later, clock: Clock
) -> None:
    """A stale timer (its stage approved while the scheduler was busy) is a no-op: the request
    moved on, so it neither ends the request nor disturbs the next stage's timer."""
    loop, _ = await _staged(api)
    request = await ask(api, loop["id"], timeout_action="reject")
    stale = (await timeouts.timers_of(ctx, request["id"]))[0]
    r = await api.as_(
        "ann", "POST", f"/v1/requests/{request['id']}/decisions", json={"decision": "approve"}
    )
    assert r.status_code == 201, r.text
    # Put the lead stage's timer back, as if the scheduler had claimed it before the vote.
    async with ctx.db.write() as conn:
        await timer_store.insert_timers(
            conn,
            [
                {
                    "id": stale.id,
                    "request_id": stale.request_id,
                    "kind": stale.kind.value,
                    "step": stale.step,
                    "data": stale.data,
                    "due_at": stale.due_at,
                    "attempts": 0,
                    "created_at": clock(),
                }
            ],
        )
    assert len(await _stage_timers(ctx, request["id"])) == 2
    await later(60)
    assert (await read(api, request["id"]))["status"] == "pending"
    assert await _stage_timers(ctx, request["id"]) == [(1, clock() + timedelta(seconds=60))]
    assert types(await request_events(api, request["id"]))[-1] == "request.stage_completed"
