"""Assignment on loops with stages, on SQLite and PostgreSQL: a request goes to the reviewers of
the stage it is in (a stage without reviewers takes the loop's), each next stage is assigned
when it starts (`request.assigned`, reason "stage"), and never to someone who already voted."""

from __future__ import annotations

from typing import Any

from tests.api.test_errors import assert_problem
from tests.conftest import Api

from .support import assigned_events, assigned_to, assignees, create, decide, loop, read, team


def _stage(name: str, reviewers: list[str], **fields: Any) -> dict[str, Any]:
    return {"name": name, "reviewers": reviewers, **fields}


async def test_round_robin_assigns_each_stage_and_never_one_who_voted_before(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat", "dan")
    # The finance stage has no reviewers of its own: it takes the loop's, bob first.
    stages = [_stage("lead", [ids["bob"], ids["ann"]]), _stage("finance", [])]
    order = [ids["bob"], ids["ann"], ids["cat"], ids["dan"]]
    loop_id = await loop(api, order, "round_robin", stages=stages)
    request = await create(api, loop_id)
    assert request["stage"] == "lead"
    assert assignees(request) == [ids["bob"]]  # from the lead stage's reviewers, in turn

    r = await decide(api, "bob", request["id"])
    assert r.status_code == 201, r.text
    now = await read(api, request["id"])
    assert now["stage"] == "finance"
    # The finance stage's turn is bob's (its own cursor, at the start), but he voted at lead.
    assert assignees(now) == [ids["ann"]]
    events = await assigned_events(api)
    assert [(e["assignee"], e["reason"]) for e in events] == [
        (ids["bob"], "round_robin"),
        (ids["ann"], "stage"),
    ]
    assert events[-1]["replaced"] == [ids["bob"]]  # the lead stage's assignment ended
    assert await assigned_to(api, ids["bob"]) == []
    assert await assigned_to(api, ids["ann"]) == [request["id"]]

    assert_problem(await decide(api, "bob", request["id"]), 403)  # not bob's any more
    assert_problem(await decide(api, "cat", request["id"]), 403)  # assigned to ann
    r = await decide(api, "ann", request["id"])
    assert (r.json()["status"], r.json()["decision"]) == ("completed", "approved")
    assert len(await assigned_events(api)) == 2  # the last stage done: nobody more to ask


async def test_least_loaded_assigns_from_the_stage_a_request_is_in(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat", "dan")
    stages = [
        _stage("lead", [ids["ann"], ids["bob"]], when="metadata.amount > 100"),
        _stage("finance", [ids["cat"], ids["dan"]]),
    ]
    loop_id = await loop(api, ids.values(), "least_loaded", stages=stages)
    small = await create(api, loop_id, metadata={"amount": 50})
    assert small["stage"] == "finance"  # the lead stage did not apply
    assert assignees(small) == [ids["cat"]]
    big = await create(api, loop_id, metadata={"amount": 500})
    assert (big["stage"], assignees(big)) == ("lead", [ids["ann"]])  # never cat or dan yet

    r = await decide(api, "ann", big["id"])
    assert r.status_code == 201, r.text
    now = await read(api, big["id"])
    assert now["stage"] == "finance"
    assert assignees(now) == [ids["dan"]]  # cat holds one pending already, dan none
    last = (await assigned_events(api))[-1]
    assert (last["assignee"], last["reason"], last["replaced"]) == (
        ids["dan"],
        "stage",
        [ids["ann"]],
    )
    assert sorted(await assigned_to(api, ids["cat"])) == [small["id"]]
    assert await assigned_to(api, ids["ann"]) == []


async def test_an_open_loop_with_stages_assigns_nobody(api: Api) -> None:
    ids = await team(api, "ann", "bob")
    stages = [_stage("lead", [ids["ann"]]), _stage("finance", [ids["bob"]])]
    loop_id = await loop(api, ids.values(), "open", stages=stages)
    request = await create(api, loop_id)
    assert assignees(request) == []
    assert (await decide(api, "ann", request["id"])).status_code == 201
    assert (await read(api, request["id"]))["stage"] == "finance"
    assert await assigned_events(api) == []


async def test_new_content_sends_the_request_back_to_the_first_stage_and_its_reviewers(
    api: Api,
) -> None:
    ids = await team(api, "ann", "bob", "cat")
    stages = [_stage("lead", [ids["ann"]]), _stage("finance", [ids["bob"], ids["cat"]])]
    loop_id = await loop(api, ids.values(), "round_robin", stages=stages)
    request = await create(api, loop_id)
    assert (await decide(api, "ann", request["id"])).status_code == 201
    assert assignees(await read(api, request["id"])) == [ids["bob"]]

    r = await api.as_("requester", "PATCH", f"/v1/requests/{request['id']}", json={"content": "x"})
    assert r.status_code == 200, r.text
    now = await read(api, request["id"])
    assert (now["stage"], assignees(now)) == ("lead", [ids["ann"]])  # her vote was voided
    last = (await assigned_events(api))[-1]
    assert (last["assignee"], last["reason"], last["replaced"]) == (
        ids["ann"],
        "stage",
        [ids["bob"]],
    )
    assert await assigned_to(api, ids["bob"]) == []
    assert (await decide(api, "ann", request["id"])).status_code == 201


async def test_a_delegate_decides_the_stage_of_the_reviewer_they_act_for(api: Api) -> None:
    ids = await team(api, "ann", "bob", "dan")  # dan reviews no stage and no loop
    stages = [_stage("lead", [ids["ann"]]), _stage("finance", [ids["bob"]])]
    loop_id = await loop(api, [ids["ann"], ids["bob"]], "round_robin", stages=stages)
    r = await api.as_(
        "admin", "PUT", f"/v1/users/{ids['bob']}/away", json={"delegate_id": ids["dan"]}
    )
    assert r.status_code == 200, r.text
    request = await create(api, loop_id)
    assert (await decide(api, "ann", request["id"])).status_code == 201
    now = await read(api, request["id"])
    assert now["stage"] == "finance"
    assert [(a["user_id"], a["delegate_id"]) for a in now["assignees"]] == [
        (ids["bob"], ids["dan"])
    ]
    # The finance stage was given to dan, for bob: he may decide it (he was refused before).
    r = await decide(api, "dan", request["id"])
    assert r.status_code == 201, r.text
    done = await read(api, request["id"])
    assert (done["status"], done["decision"]) == ("completed", "approved")
    assert done["decided_by"][-1]["on_behalf_of"] == {"user_id": ids["bob"]}


async def test_round_robin_is_fair_inside_each_stage(api: Api) -> None:
    """Each stage takes turns among its own reviewers: with one cursor for the whole loop, a
    stage of three reviewers after a stage of two only ever reached the first two."""
    ids = await team(api, "ann", "bob", "cat", "dan", "eve")
    stages = [
        _stage("lead", [ids["ann"], ids["bob"]]),
        _stage("finance", [ids["cat"], ids["dan"], ids["eve"]]),
    ]
    loop_id = await loop(api, ids.values(), "round_robin", stages=stages)
    names = {v: k for k, v in ids.items()}
    turns: dict[str, list[str]] = {"lead": [], "finance": []}
    for _ in range(12):  # one request at a time, through both stages
        request = await create(api, loop_id)
        [lead] = assignees(request)
        turns["lead"].append(names[lead])
        assert (await decide(api, names[lead], request["id"])).status_code == 201
        [finance] = assignees(await read(api, request["id"]))
        turns["finance"].append(names[finance])
        assert (await decide(api, names[finance], request["id"])).status_code == 201
    assert turns["lead"] == ["ann", "bob"] * 6
    assert turns["finance"] == ["cat", "dan", "eve"] * 4


async def test_an_admin_reassigns_a_stage_only_to_one_of_its_reviewers(api: Api) -> None:
    ids = await team(api, "ann", "bob", "cat")
    stages = [_stage("lead", [ids["ann"], ids["bob"]]), _stage("finance", [])]
    loop_id = await loop(api, ids.values(), "round_robin", stages=stages)
    request = await create(api, loop_id)
    url = f"/v1/requests/{request['id']}/assign"
    # cat could not decide the lead stage, nor could anyone else once it is hers: refused.
    r = await api.as_("admin", "POST", url, json={"user_id": ids["cat"]})
    assert_problem(r, 422, fields=["body.user_id"])
    assert "not a reviewer of stage 'lead'" in r.json()["detail"]
    r = await api.as_("admin", "POST", url, json={"user_id": ids["bob"]})
    assert r.status_code == 200, r.text
    assert assignees(r.json()) == [ids["bob"]]
    assert (await decide(api, "bob", request["id"])).status_code == 201
    # The finance stage takes the loop's reviewers: cat may have it now.
    r = await api.as_("admin", "POST", url, json={"user_id": ids["cat"]})
    assert r.status_code == 200, r.text
    assert (await decide(api, "cat", request["id"])).status_code == 201
