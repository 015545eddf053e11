"""POST /v1/loops/{loop_id}/simulate: which rule fires, who is asked at each stage, when the
clocks run out; the same checks as a create, and nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.test_errors import assert_problem, snapshot
from tests.conftest import Api

from .support import new_loop, shown


async def test_a_dry_run_of_an_auto_approval_writes_nothing(api: Api) -> None:
    rule = {"when": "metadata.amount < 100", "action": "auto_approve"}
    loop = await new_loop(api, rules=[rule])
    before = await snapshot(api)
    r = await api.as_(
        "requester",
        "POST",
        f"/v1/loops/{loop['id']}/simulate",
        json={"content": "Pay", "metadata": {"amount": 5}},
    )
    assert r.status_code == 200, r.text
    sim = r.json()
    assert sim["outcome"] == "auto_approved"
    assert sim["rule"] == {"index": 0, **shown(rule)}
    assert sim["reviewers"] == [] and sim["stages"] == []
    assert [(e["type"], e["offset_seconds"]) for e in sim["timeline"]] == [
        ("created", 0),
        ("completed", 0),
    ]
    assert sim["timeline"][1]["decision"] == "approved"
    assert await snapshot(api) == before

    r = await api.as_("admin", "POST", f"/v1/loops/{loop['id']}/simulate", json={"content": "Pay"})
    sim = r.json()
    assert sim["outcome"] == "pending" and sim["rule"] is None
    assert sim["rule_errors"] == [
        {"index": 0, "when": rule["when"], "error": "no such key: amount"}
    ]


async def test_a_dry_run_shows_each_stage_its_reviewers_and_the_timeline(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    stages = [
        {"name": "lead", "reviewers": [ann], "timeout_seconds": 600},
        {"name": "finance", "reviewers": [bob], "when": "metadata.amount > 10000",
         "required_approvals": 1, "timeout_seconds": 1800},
        {"name": "board", "when": "metadata.amount > 1000000", "required_approvals": 2},
    ]  # fmt: skip
    rules = [{"when": "metadata.amount > 10000", "action": "set_priority", "priority": "high"}]
    loop = await new_loop(
        api, reviewers=[ann, bob], stages=stages, rules=rules, default_timeout_seconds=7200
    )
    started = datetime.now().astimezone()
    r = await api.as_(
        "requester",
        "POST",
        f"/v1/loops/{loop['id']}/simulate",
        json={"content": "Pay", "metadata": {"amount": 25000}},
    )
    assert r.status_code == 200, r.text
    sim = r.json()
    assert sim["outcome"] == "pending" and sim["priority"] == "high"
    assert [f["index"] for f in sim["rules_fired"]] == [0]
    got = [(s["name"], s["applies"], [p["email"] for p in s["reviewers"]], s["required_approvals"])
           for s in sim["stages"]]  # fmt: skip
    assert got == [
        ("lead", True, ["ann@example.com"], 1),
        ("finance", True, ["bob@example.com"], 1),
        ("board", False, ["ann@example.com", "bob@example.com"], 2),
    ]
    assert sim["required_approvals"] == 1 and sim["timeout_seconds"] == 7200
    timeline = [(e["type"], e.get("stage"), e["offset_seconds"]) for e in sim["timeline"]]
    assert timeline == [
        ("created", None, 0),
        ("stage_timeout", "lead", 600),
        ("timeout", None, 7200),
        ("stage_timeout", "finance", None),  # its clock starts when lead approves
    ]
    deadline = datetime.fromisoformat(sim["timeline"][2]["at"])
    assert abs(deadline - (started + timedelta(seconds=7200))) < timedelta(seconds=30)
    assert sim["timeline"][2]["action"] == "expire"


async def test_a_dry_run_of_a_route_shows_the_target_loop(api: Api) -> None:
    bob = await api.add_reviewer("bob")
    finance = await new_loop(api, "finance", reviewers=[bob], required_approvals=1)
    route = {"when": "true", "action": "route_to", "loop_id": finance["id"]}
    triage = await new_loop(api, "triage", rules=[route])
    r = await api.as_(
        "requester", "POST", f"/v1/loops/{triage['id']}/simulate", json={"content": "Pay"}
    )
    sim = r.json()
    assert (sim["loop_id"], sim["routed_to"], sim["outcome"]) == (
        triage["id"],
        finance["id"],
        "pending",
    )
    assert [p["id"] for p in sim["reviewers"]] == [bob]


async def test_a_dry_run_checks_the_body_and_the_caller(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    url = f"/v1/loops/{loop['id']}/simulate"
    assert_problem(await api.as_("requester", "POST", url, json={}), 422, fields=["body.content"])
    r = await api.as_("requester", "POST", url, json={"content": "c", "timeout_action": "approve"})
    assert_problem(r, 422, fields=["body.timeout_action"])
    assert_problem(await api.as_("ann", "POST", url, json={"content": "c"}), 403)
    ghost = "/v1/loops/loop_01J00000000000000000000000/simulate"
    assert_problem(await api.as_("admin", "POST", ghost, json={"content": "c"}), 404)


async def test_a_dry_run_shows_the_schedulers_reminders_pickup_and_escalation(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop = await new_loop(
        api,
        reviewers=[ann],
        default_timeout_seconds=1000,
        default_timeout_action="reject",
        pickup_timeout_seconds=100,
        reminders=[0.5, 0.9],
        escalation=[{"after_seconds": 300, "add_reviewers": [bob]}],
    )
    r = await api.as_("admin", "POST", f"/v1/loops/{loop['id']}/simulate", json={"content": "P"})
    assert r.status_code == 200, r.text
    timeline = r.json()["timeline"]
    assert [(e["type"], e["offset_seconds"]) for e in timeline] == [
        ("created", 0),
        ("pickup", 100),
        ("escalation", 300),
        ("reminder", 500),
        ("reminder", 900),
        ("timeout", 1000),
    ]
    assert timeline[2]["add_reviewers"] == [bob]
    assert timeline[3]["fraction"] == 0.5
    assert timeline[5]["action"] == "reject"
