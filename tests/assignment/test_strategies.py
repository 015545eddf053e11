"""Each assignment strategy over HTTP, on SQLite and PostgreSQL: who gets a request, the
`request.assigned` events, the `assignee` filter, who may vote, and an admin's reassignment."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from signoff.store import assignments as assignment_store
from signoff.store import requests as request_store
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


async def test_round_robin_is_fair_over_300_requests(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat")
    loop_id = await loop(api, ids.values(), "round_robin")
    # Single creates and batches share the one cursor.
    made = [await create(api, loop_id) for _ in range(30)]
    for _ in range(3):
        items = [{"content": f"item {i}"} for i in range(90)]
        r = await api.as_(
            "requester", "POST", f"/v1/loops/{loop_id}/requests/batch", json={"items": items}
        )
        assert r.status_code == 201, r.text
        made += r.json()["data"]
    order = [assignees(r) for r in made]
    assert all(len(a) == 1 for a in order)
    names = {v: k for k, v in ids.items()}
    turns = [names[a[0]] for a in order]
    assert turns == ["ann", "bob", "cat"] * 100
    assert Counter(turns) == {"ann": 100, "bob": 100, "cat": 100}
    # Each assignment is an event naming the assignee, and the list filters by assignee.
    events = await assigned_events(api)
    assert Counter(names[e["assignee"]] for e in events) == {"ann": 100, "bob": 100, "cat": 100}
    assert {e["reason"] for e in events} == {"round_robin"}
    assert all(e["delegate_id"] is None and e["loop_id"] == loop_id for e in events)
    for name, user in ids.items():
        mine = await assigned_to(api, user)
        assert len(mine) == 100
        assert set(mine) == {r["id"] for r in made if assignees(r) == [user]}, name
    # A reviewer asks for their own with `me`.
    assert sorted(await assigned_to(api, "me", "bob")) == sorted(await assigned_to(api, ids["bob"]))


async def test_least_loaded_picks_whoever_has_the_fewest_pending(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat")
    loop_id = await loop(api, ids.values(), "least_loaded")
    first = [await create(api, loop_id) for _ in range(3)]
    assert [assignees(r) for r in first] == [[ids["ann"]], [ids["bob"]], [ids["cat"]]]
    # bob and cat decide theirs: ann now has the most pending, and is picked last.
    assert (await decide(api, "bob", first[1]["id"])).status_code == 201
    assert (await decide(api, "cat", first[2]["id"], "reject")).status_code == 201
    nxt = [assignees(await create(api, loop_id))[0] for _ in range(5)]
    assert nxt == [ids["bob"], ids["cat"], ids["ann"], ids["bob"], ids["cat"]]
    # A request that leaves pending any other way (cancelled) frees its assignee too.
    for request_id in await assigned_to(api, ids["ann"]):
        r = await api.as_("requester", "POST", f"/v1/requests/{request_id}/cancel")
        assert r.status_code == 200
    assert assignees(await create(api, loop_id)) == [ids["ann"]]


async def test_an_away_reviewer_is_skipped_until_they_are_back(api: Api) -> None:
    clock = Clock(api)
    ids = await team(api, "ann", "bob", "cat")
    loop_id = await loop(api, ids.values(), "round_robin")
    until = clock.now.replace(hour=17)
    r = await api.as_(
        "bob", "PUT", f"/v1/users/{ids['bob']}/away", json={"away_until": stamp(until)}
    )
    assert r.status_code == 200, r.text
    assert r.json()["away"] == {
        "away_from": stamp(clock.now),
        "away_until": stamp(until),
        "delegate_id": None,
    }
    turns = [assignees(await create(api, loop_id))[0] for _ in range(4)]
    assert turns == [ids["ann"], ids["cat"], ids["ann"], ids["cat"]]
    clock.advance(hours=9)  # past 17:00: bob is back
    turns = [assignees(await create(api, loop_id))[0] for _ in range(3)]
    assert turns == [ids["ann"], ids["bob"], ids["cat"]]


async def test_a_deactivated_reviewer_is_never_picked(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat")
    loop_id = await loop(api, ids.values(), "least_loaded")
    r = await api.as_("admin", "PATCH", f"/v1/users/{ids['bob']}", json={"active": False})
    assert r.status_code == 200
    turns = [assignees(await create(api, loop_id))[0] for _ in range(4)]
    assert turns == [ids["ann"], ids["cat"], ids["ann"], ids["cat"]]


async def test_several_approvals_are_assigned_to_as_many_people(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat")
    loop_id = await loop(api, ids.values(), "round_robin", required_approvals=2)
    made = [assignees(await create(api, loop_id)) for _ in range(3)]
    assert made == [
        [ids["ann"], ids["bob"]],
        [ids["cat"], ids["ann"]],
        [ids["bob"], ids["cat"]],
    ]


async def test_only_assignees_and_admins_decide_an_assigned_request(api: Api) -> None:
    ids = await team(api, "ann", "bob")
    loop_id = await loop(api, ids.values(), "round_robin")
    request = await create(api, loop_id)
    assert assignees(request) == [ids["ann"]]
    # bob reviews the loop: he still sees the request, but it is ann's to decide.
    assert (await read(api, request["id"], "bob"))["assignees"][0]["user_id"] == ids["ann"]
    before = await snapshot(api)
    body = assert_problem(await decide(api, "bob", request["id"]), 403, slug="forbidden")
    assert "assigned to someone else" in body["detail"]
    assert await snapshot(api) == before
    assert (await decide(api, "ann", request["id"])).status_code == 201
    # An admin may decide any request, as before.
    other = await create(api, loop_id)
    assert assignees(other) == [ids["bob"]]
    assert (await decide(api, "admin", other["id"])).status_code == 201


async def test_an_open_loop_assigns_nobody_and_any_reviewer_decides(api: Api) -> None:
    ids = await team(api, "ann", "bob")
    loop_id = await loop(api, ids.values(), "open")
    request = await create(api, loop_id)
    assert request["assignees"] == [] and request["claim"] is None
    assert await assigned_events(api) == []
    assert (await decide(api, "bob", request["id"])).status_code == 201


async def test_a_vote_reads_only_what_the_voters_standing_depends_on(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live votes once per vote; on an open loop, for one of its reviewers, neither the
    assignees nor the absences (their standing does not depend on them)."""
    calls: Counter[str] = Counter()

    def counted(module: Any, name: str) -> None:
        real = getattr(module, name)

        async def counting(*args: Any, **kw: Any) -> Any:
            calls[name] += 1
            return await real(*args, **kw)

        monkeypatch.setattr(module, name, counting)

    counted(assignment_store, "current_assignees")
    counted(assignment_store, "current_absences")
    counted(request_store, "live_votes")
    ids = await team(api, "ann", "bob")
    names = {user_id: name for name, user_id in ids.items()}
    reads = {
        "open": {"live_votes": 1},
        "round_robin": {"live_votes": 1, "current_assignees": 1, "current_absences": 1},
    }
    for strategy, expected in reads.items():
        loop_id = await loop(api, ids.values(), strategy)
        request = await create(api, loop_id)
        voter = names[assignees(request)[0]] if request["assignees"] else "bob"
        calls.clear()
        assert (await decide(api, voter, request["id"])).status_code == 201
        assert calls == expected, strategy


async def test_on_an_open_loop_the_delegate_of_someone_it_was_given_to_decides_for_them(
    api: Api,
) -> None:
    """Why an open loop's standing still reads assignees for anyone not among its reviewers."""
    clock = Clock(api)
    ids = await team(api, "ann", "bob", "cat", "dan")  # cat and dan are outside the loop
    loop_id = await loop(api, [ids["ann"], ids["bob"]], "open", required_approvals=2)
    request = await create(api, loop_id)
    url = f"/v1/requests/{request['id']}/assign"
    r = await api.as_("admin", "POST", url, json={"user_id": ids["cat"]})
    assert r.status_code == 200, r.text
    until = stamp(clock.now.replace(hour=18))
    r = await api.as_(
        "cat",
        "PUT",
        f"/v1/users/{ids['cat']}/away",
        json={"away_until": until, "delegate_id": ids["dan"]},
    )
    assert r.status_code == 200, r.text
    assert (await decide(api, "ann", request["id"])).status_code == 201
    assert (await decide(api, "dan", request["id"])).status_code == 201
    done = await read(api, request["id"])
    assert done["decision"] == "approved"
    [by_ann, by_dan] = done["decided_by"]
    assert by_ann["user_id"] == ids["ann"] and "on_behalf_of" not in by_ann
    assert by_dan["on_behalf_of"] == {"user_id": ids["cat"]}


async def test_an_admin_reassigns_and_others_may_not(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat")
    loop_id = await loop(api, [ids["ann"], ids["bob"]], "round_robin")
    request = await create(api, loop_id, requested_by="dan@example.com")
    assert assignees(request) == [ids["ann"]]
    url = f"/v1/requests/{request['id']}/assign"
    before = await snapshot(api)
    for who in ("ann", "bob", "requester"):
        assert_problem(await api.as_(who, "POST", url, json={"user_id": ids["bob"]}), 403)
    assert await snapshot(api) == before
    # cat is not even a reviewer of the loop: an admin may still hand it to her.
    r = await api.as_("admin", "POST", url, json={"user_id": ids["cat"]})
    assert r.status_code == 200, r.text
    assert assignees(r.json()) == [ids["cat"]]
    [*_, event] = await all_events(api, request_id=request["id"])
    assert event["type"] == "request.assigned"
    assert event["actor"]["role"] == "admin"
    assert event["data"]["assignee"] == ids["cat"]
    assert event["data"]["replaced"] == [ids["ann"]]
    assert event["data"]["reason"] == "reassigned"
    assert await assigned_to(api, ids["ann"]) == []
    assert await assigned_to(api, ids["cat"]) == [request["id"]]
    # ann no longer may; cat, who is outside the loop, reads and decides it.
    assert_problem(await decide(api, "ann", request["id"]), 403)
    assert (await read(api, request["id"], "cat"))["id"] == request["id"]
    assert [r["id"] for r in (await api.as_("cat", "GET", "/v1/requests")).json()["data"]] == [
        request["id"]
    ]
    assert (await decide(api, "cat", request["id"])).status_code == 201


async def test_bad_reassignments_are_named(api: Api) -> None:
    ids = await team(api, "ann", "bob")
    loop_id = await loop(api, ids.values(), "round_robin", required_approvals=2)
    request = await create(api, loop_id, requested_by=ids["bob"])
    # bob asked for it: he is never picked, and cannot be given it.
    assert assignees(request) == [ids["ann"]]
    url = f"/v1/requests/{request['id']}/assign"
    before = await snapshot(api)
    cases = [
        ({"user_id": ids["bob"]}, 422, ["body.user_id"]),
        ({"user_id": "usr_01J00000000000000000000000"}, 422, ["body.user_id"]),
        ({"user_id": ids["ann"]}, 409, None),
        ({"user_id": ids["ann"], "replaces": ids["bob"]}, 422, ["body.replaces"]),
        ({}, 422, ["body.user_id"]),
    ]
    for body, status, fields in cases:
        assert_problem(await api.as_("admin", "POST", url, json=body), status, fields=fields)
    assert await snapshot(api) == before
    r = await api.as_("requester", "POST", f"/v1/requests/{request['id']}/cancel")
    assert r.status_code == 200
    r = await api.as_("admin", "POST", url, json={"user_id": ids["ann"]})
    assert_problem(r, 409, slug="invalid-transition")
