"""Stages over the API: approval in sequence, one person in one stage, a rejection ending it,
a stage skipped by its `when`, and new content starting approval over."""

from __future__ import annotations

from typing import Any

from tests.api.test_errors import assert_problem
from tests.conftest import Api

from .support import events_of, new_loop, new_request, vote


async def _two_stages(api: Api) -> tuple[dict[str, Any], dict[str, str]]:
    people = {n: await api.add_reviewer(n) for n in ("ann", "bob", "cat")}
    stages = [
        {"name": "lead", "reviewers": [people["ann"], people["bob"]]},
        {
            "name": "finance",
            "reviewers": [people["bob"], people["cat"]],
            "when": "metadata.amount > 10000",
            "timeout_seconds": 3600,
        },
    ]
    loop = await new_loop(api, reviewers=list(people.values()), stages=stages)
    return loop, people


async def test_two_stages_in_sequence_and_one_person_counts_in_one(api: Api) -> None:
    loop, people = await _two_stages(api)
    assert [s["name"] for s in loop["stages"]] == ["lead", "finance"]
    made = await new_request(api, loop["id"], metadata={"amount": 25000})
    assert made["stage"] == "lead"
    assert [s["status"] for s in made["stages"]] == ["active", "waiting"]

    assert_problem(await vote(api, "cat", made["id"]), 403)  # cat reviews finance, not lead
    first = await vote(api, "bob", made["id"])
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["stage"]) == ("pending", "lead")
    now = (await api.as_("requester", "GET", f"/v1/requests/{made['id']}")).json()
    assert now["stage"] == "finance"
    assert [s["status"] for s in now["stages"]] == ["approved", "active"]

    again = await vote(api, "bob", made["id"])  # bob is a finance reviewer too
    body = assert_problem(again, 409, slug="conflict")
    assert "at stage 'lead'; one person never counts in two stages" in body["detail"]
    assert_problem(await vote(api, "ann", made["id"]), 403)  # ann is not in finance

    last = await vote(api, "cat", made["id"])
    assert (last.json()["decision"], last.json()["stage"]) == ("approved", "finance")
    done = (await api.as_("requester", "GET", f"/v1/requests/{made['id']}/response")).json()
    assert [d["user_id"] for d in done["decided_by"]] == [people["bob"], people["cat"]]

    events = await events_of(api, made["id"])
    assert [e["type"] for e in events] == [
        "request.created",
        "request.vote",
        "request.stage_completed",
        "request.vote",
        "request.stage_completed",
        "request.completed",
    ]
    lead_done, finance_done = (e["data"] for e in events if e["type"] == "request.stage_completed")
    assert lead_done["stage"] == {"index": 0, "name": "lead"}
    assert lead_done["next_stage"] == {"index": 1, "name": "finance"}
    assert finance_done["next_stage"] is None
    assert events[1]["data"]["stage"] == "lead" and events[3]["data"]["stage"] == "finance"


async def test_a_rejection_at_the_first_stage_ends_the_request(api: Api) -> None:
    loop, _ = await _two_stages(api)
    made = await new_request(api, loop["id"], metadata={"amount": 25000})
    r = await vote(api, "ann", made["id"], decision="reject", feedback="not this quarter")
    assert r.json()["decision"] == "rejected"
    done = (await api.as_("requester", "GET", f"/v1/requests/{made['id']}")).json()
    assert (done["status"], done["decision"]) == ("completed", "rejected")
    assert [s["status"] for s in done["stages"]] == ["ended", "waiting"]
    assert_problem(await vote(api, "cat", made["id"]), 409, slug="invalid-transition")
    types = [e["type"] for e in await events_of(api, made["id"])]
    assert "request.stage_completed" not in types and types[-1] == "request.completed"


async def test_a_stage_whose_when_is_false_is_skipped(api: Api) -> None:
    loop, _ = await _two_stages(api)
    made = await new_request(api, loop["id"], metadata={"amount": 50})
    r = await vote(api, "ann", made["id"])
    assert r.json()["decision"] == "approved", "finance does not apply to 50"
    done = (await api.as_("requester", "GET", f"/v1/requests/{made['id']}")).json()
    assert [s["status"] for s in done["stages"]] == ["approved", "skipped"]
    [stage_done] = [
        e["data"]
        for e in await events_of(api, made["id"])
        if e["type"] == "request.stage_completed"
    ]
    assert stage_done["skipped"] == ["finance"] and stage_done["next_stage"] is None


async def test_new_content_voids_every_stage_and_starts_again(api: Api) -> None:
    loop, _ = await _two_stages(api)
    made = await new_request(api, loop["id"], metadata={"amount": 25000})
    await vote(api, "ann", made["id"])
    r = await api.as_(
        "requester", "PATCH", f"/v1/requests/{made['id']}", json={"content": "Pay 2x"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "lead"
    assert [s["status"] for s in r.json()["stages"]] == ["active", "waiting"]
    # ann's approval was voided with the old content, so she may approve the new one.
    again = await vote(api, "ann", made["id"])
    assert again.status_code == 201 and again.json()["stage"] == "lead"


async def test_stages_are_checked_when_saved(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    body = {
        "name": "p",
        "reviewers": [ann],
        "stages": [{"name": "lead", "reviewers": [bob], "when": "metadata.amount >"}],
    }
    r = await api.as_("admin", "POST", "/v1/loops", json=body)
    assert_problem(r, 422, fields=["body.stages", "body.stages.0.reviewers", "body.stages.0.when"])
    loop = await new_loop(api, reviewers=[ann, bob], stages=[{"name": "lead", "reviewers": [bob]}])
    r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"reviewers": [ann]})
    assert_problem(r, 422, fields=["body.reviewers"])
    r = await api.as_(
        "admin",
        "PATCH",
        f"/v1/loops/{loop['id']}",
        json={"stages": [{"name": "x", "required_approvals": 0}]},
    )
    assert_problem(r, 422, fields=["body.stages.0.required_approvals"])
    r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"stages": []})
    assert r.status_code == 200 and r.json()["stages"] == []
    plain = await new_request(api, loop["id"])
    assert plain["stage"] is None and plain["stages"] is None


async def test_a_stage_without_reviewers_takes_any_reviewer_of_the_loop(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    stages = [{"name": "any", "required_approvals": 2}]
    loop = await new_loop(api, reviewers=[ann, bob], stages=stages)
    made = await new_request(api, loop["id"], required_approvals=1)
    assert made["required_approvals"] == 2, "a request cannot lower a stage's quorum"
    assert (await vote(api, "ann", made["id"])).json()["status"] == "pending"
    assert (await vote(api, "bob", made["id"])).json()["decision"] == "approved"
