"""Delegation: an away reviewer's assignments go to their delegate, whose vote the audit trail
records with both names; no cycles; a delegate never approves their own request."""

from __future__ import annotations

from typing import Any

from tests.api.test_errors import all_events, assert_problem, snapshot
from tests.conftest import Api

from .support import (
    Clock,
    assigned_events,
    assigned_to,
    assignees,
    create,
    decide,
    loop,
    read,
    stamp,
    team,
)


async def away(api: Api, who: str, user_id: str, **body: Any) -> Any:
    return await api.as_(who, "PUT", f"/v1/users/{user_id}/away", json=body)


async def test_an_away_reviewers_turn_goes_to_their_delegate_who_votes_for_them(
    api: Api,
) -> None:
    clock = Clock(api)
    ids = await team(api, "ann", "bob", "dan")  # dan is not a reviewer of the loop
    loop_id = await loop(api, [ids["ann"], ids["bob"]], "round_robin")
    until = stamp(clock.now.replace(hour=18))
    r = await away(api, "ann", ids["ann"], away_until=until, delegate_id=ids["dan"])
    assert r.status_code == 200, r.text
    assert r.json()["away"]["delegate_id"] == ids["dan"]
    request = await create(api, loop_id)
    assert request["assignees"] == [
        {"user_id": ids["ann"], "delegate_id": ids["dan"], "assigned_at": stamp(clock.now)}
    ]
    [event] = await assigned_events(api)
    assert (event["assignee"], event["delegate_id"]) == (ids["ann"], ids["dan"])
    # dan finds it among his, reads it and decides it, for ann.
    assert await assigned_to(api, "me", "dan") == [request["id"]]
    assert [x["id"] for x in (await api.as_("dan", "GET", "/v1/requests")).json()["data"]] == [
        request["id"]
    ]
    assert (await read(api, request["id"], "dan"))["id"] == request["id"]
    r = await api.as_(
        "dan", "POST", f"/v1/requests/{request['id']}/decisions", json={"decision": "approve"}
    )
    assert r.status_code == 201, r.text
    done = await read(api, request["id"])
    assert done["status"] == "completed"
    [decider] = done["decided_by"]
    assert decider["user_id"] == ids["dan"]
    assert decider["on_behalf_of"] == {"user_id": ids["ann"]}
    r = await api.as_("admin", "GET", f"/v1/requests/{request['id']}/events")
    by_type = {e["type"]: e for e in r.json()["data"]}
    voter = by_type["request.vote"]["data"]["voter"]
    assert (voter["user_id"], voter["on_behalf_of"]) == (ids["dan"], {"user_id": ids["ann"]})
    assert by_type["request.vote"]["actor"]["on_behalf_of"] == {"user_id": ids["ann"]}
    # bob's own turn is still his.
    assert assignees(await create(api, loop_id)) == [ids["bob"]]


async def test_assignments_made_before_the_absence_pass_to_the_delegate(api: Api) -> None:
    clock = Clock(api)
    ids = await team(api, "ann", "bob", "dan")
    loop_id = await loop(api, [ids["ann"], ids["bob"]], "round_robin", required_approvals=2)
    request = await create(api, loop_id)
    assert assignees(request) == [ids["ann"], ids["bob"]]
    assert_problem(await decide(api, "dan", request["id"]), 403)
    r = await away(api, "admin", ids["ann"], delegate_id=ids["dan"])
    assert r.status_code == 200, r.text
    shown = (await read(api, request["id"]))["assignees"]
    assert [(a["user_id"], a["delegate_id"]) for a in shown] == [
        (ids["ann"], ids["dan"]),
        (ids["bob"], None),
    ]
    assert await assigned_to(api, ids["dan"]) == [request["id"]]
    assert (await decide(api, "dan", request["id"])).status_code == 201
    # ann, back early, cannot vote a second time through herself: dan voted for her.
    assert_problem(await decide(api, "ann", request["id"]), 409)
    assert (await decide(api, "bob", request["id"])).status_code == 201
    done = await read(api, request["id"])
    assert done["decision"] == "approved"
    assert [d.get("on_behalf_of") for d in done["decided_by"]] == [{"user_id": ids["ann"]}, None]
    # Once her absence is cleared, dan stands in for nobody.
    clock.advance(hours=1)
    r = await api.as_("ann", "DELETE", f"/v1/users/{ids['ann']}/away")
    assert r.status_code == 200 and r.json()["away"] is None
    other = await create(api, loop_id)
    assert_problem(await decide(api, "dan", other["id"]), 403)


async def test_a_delegation_chain_is_followed(api: Api) -> None:
    Clock(api)
    ids = await team(api, "ann", "bob", "cat")
    loop_id = await loop(api, [ids["ann"]], "round_robin")
    assert (await away(api, "ann", ids["ann"], delegate_id=ids["bob"])).status_code == 200
    assert (await away(api, "bob", ids["bob"], delegate_id=ids["cat"])).status_code == 200
    request = await create(api, loop_id)
    assert request["assignees"][0]["delegate_id"] == ids["cat"]
    assert_problem(await decide(api, "bob", request["id"]), 403)
    assert (await decide(api, "cat", request["id"])).status_code == 201


async def test_a_delegation_cycle_is_refused(api: Api) -> None:
    Clock(api)
    ids = await team(api, "ann", "bob", "cat")
    assert (await away(api, "ann", ids["ann"], delegate_id=ids["bob"])).status_code == 200
    before = await snapshot(api)
    body = assert_problem(
        await away(api, "bob", ids["bob"], delegate_id=ids["ann"]), 422, fields=["body.delegate_id"]
    )
    assert "cycle" in body["detail"]
    assert (await away(api, "bob", ids["bob"], delegate_id=ids["cat"])).status_code == 200
    before = await snapshot(api)
    assert_problem(
        await away(api, "cat", ids["cat"], delegate_id=ids["ann"]), 422, fields=["body.delegate_id"]
    )
    assert_problem(
        await away(api, "cat", ids["cat"], delegate_id=ids["cat"]), 422, fields=["body.delegate_id"]
    )
    assert await snapshot(api) == before


async def test_who_may_set_an_absence_and_bad_ones_are_named(api: Api) -> None:
    clock = Clock(api)
    ids = await team(api, "ann", "bob")
    before = await snapshot(api)
    assert_problem(await away(api, "bob", ids["ann"]), 403)
    assert_problem(await away(api, "requester", ids["ann"]), 403)
    assert_problem(await api.as_("bob", "DELETE", f"/v1/users/{ids['ann']}/away"), 403)
    past = stamp(clock.now.replace(hour=8))
    noon, eleven = stamp(clock.now.replace(hour=12)), stamp(clock.now.replace(hour=11))
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"away_until": past}, ["body.away_until"]),
        ({"away_from": noon, "away_until": eleven}, ["body.away_until"]),
        ({"away_until": "2026-11-23T10:00:00"}, ["body.away_until"]),
        ({"delegate_id": "usr_01J00000000000000000000000"}, ["body.delegate_id"]),
        ({"delegate": ids["bob"]}, ["body.delegate"]),
    ]  # fmt: skip
    for body, fields in cases:
        assert_problem(await away(api, "ann", ids["ann"], **body), 422, fields=fields)
    assert_problem(await away(api, "admin", "usr_01J00000000000000000000000"), 404)
    assert await snapshot(api) == before
    r = await away(api, "admin", ids["ann"], delegate_id=ids["bob"])
    assert r.status_code == 200
    [event] = [e for e in await all_events(api, type="user.updated")]
    assert event["data"]["changed"] == ["away"]
    assert event["data"]["away"]["delegate_id"] == ids["bob"]
    r = await api.as_("admin", "GET", f"/v1/users/{ids['ann']}")
    assert r.json()["away"]["delegate_id"] == ids["bob"]


async def test_a_delegate_who_asked_for_the_request_never_approves_it(api: Api) -> None:
    Clock(api)
    ids = await team(api, "ann", "bob", "dan")
    loop_id = await loop(api, [ids["ann"], ids["bob"]], "round_robin")
    assert (await away(api, "ann", ids["ann"], delegate_id=ids["dan"])).status_code == 200
    # dan asked for it: ann's turn cannot go to him, so bob gets it.
    mine = await create(api, loop_id, requested_by="DAN@example.com")
    assert assignees(mine) == [ids["bob"]]
    r = await api.as_(
        "admin", "POST", f"/v1/requests/{mine['id']}/assign", json={"user_id": ids["ann"]}
    )
    body = assert_problem(r, 422, fields=["body.user_id"])
    assert "delegate" in body["detail"]
    # Assigned to ann before she went away, it still cannot reach dan's approval.
    r = await api.as_("ann", "DELETE", f"/v1/users/{ids['ann']}/away")
    assert r.status_code == 200
    first = await create(api, loop_id, requested_by=ids["dan"])
    assert assignees(first) == [ids["ann"]]
    assert (await away(api, "ann", ids["ann"], delegate_id=ids["dan"])).status_code == 200
    before = await snapshot(api)
    body = assert_problem(await decide(api, "dan", first["id"]), 403)
    assert "own request" in body["detail"]
    assert await snapshot(api) == before
    # A rejection by him is no self-approval.
    assert (await decide(api, "dan", first["id"], "reject")).status_code == 201
