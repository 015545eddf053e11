"""Rules over the API: every action end to end, the events and webhooks of a rule's decision,
and rule sets that are refused when saved."""

from __future__ import annotations

from typing import Any

from tests.api.test_errors import assert_problem, snapshot
from tests.conftest import Api
from tests.webhooks.support import Receiver, make_endpoint

from .support import events_of, new_loop, new_request, shown, vote

SMALL = {"when": "metadata.amount < 100", "action": "auto_approve"}


async def test_auto_approve_completes_as_the_system_and_still_sends_webhooks(
    api: Api, receiver: Receiver
) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann], rules=[SMALL])
    assert loop["rules"] == [shown(SMALL)]
    await make_endpoint(api, receiver.url(), events=["request.*"])

    small = await new_request(api, loop["id"], metadata={"amount": 40})
    big = await new_request(api, loop["id"], metadata={"amount": 400})
    assert big["status"] == "pending"
    assert small["status"] == "completed" and small["decision"] == "approved"
    fired = {"index": 0, **SMALL}
    assert small["decided_by"] == [{"type": "system", "name": "rules", "rule": fired}]
    assert small["feedback"] == "approved by rule 0: metadata.amount < 100"
    assert small["final_content"] == "Pay"

    created, completed = await events_of(api, small["id"])
    assert created["type"] == "request.created"
    assert created["data"]["rules"] == {"fired": [fired], "errors": []}
    assert completed["type"] == "request.completed"
    assert completed["actor"] == {"type": "system", "name": "rules", "rule": fired}
    assert completed["data"]["rule"] == fired
    assert completed["data"]["decision"] == "approved"

    got = await receiver.wait_for(3)  # two created and one completed, in some order
    hooks = {(h.type, h.json["data"]["request_id"]): h.json["data"] for h in got}
    assert hooks[("request.completed", small["id"])]["decided_by"] == small["decided_by"]
    assert ("request.completed", big["id"]) not in hooks

    r = await vote(api, "ann", small["id"])
    assert_problem(r, 409, slug="invalid-transition")
    r = await api.as_("requester", "GET", f"/v1/requests/{small['id']}/response")
    assert r.json()["decision"] == "approved" and r.json()["decided_by"][0]["type"] == "system"


async def test_auto_reject_says_which_rule_and_why(api: Api) -> None:
    rule = {"when": "'pii' in ai_analysis.flags", "action": "auto_reject"}
    loop = await new_loop(api, rules=[rule])
    flagged = await new_request(api, loop["id"], ai_analysis={"flags": ["pii"]})
    assert (flagged["status"], flagged["decision"]) == ("completed", "rejected")
    assert flagged["feedback"] == "rejected by rule 0: 'pii' in ai_analysis.flags"
    clean = await new_request(api, loop["id"], ai_analysis={"flags": []})
    assert clean["status"] == "pending"
    # No ai_analysis at all: an empty map, so the rule is read without an error.
    bare = await new_request(api, loop["id"])
    assert bare["status"] == "pending"
    [created] = await events_of(api, bare["id"])
    assert created["data"]["rules"]["errors"] == [
        {"index": 0, "when": rule["when"], "error": created["data"]["rules"]["errors"][0]["error"]}
    ]


async def test_a_missing_key_makes_a_rule_not_fire_instead_of_failing_the_create(
    api: Api,
) -> None:
    loop = await new_loop(api, rules=[SMALL])
    made = await new_request(api, loop["id"], metadata={"ticket": 7})
    assert made["status"] == "pending"
    [created] = await events_of(api, made["id"])
    assert created["data"]["rules"] == {
        "fired": [],
        "errors": [{"index": 0, "when": SMALL["when"], "error": "no such key: amount"}],
    }


async def test_route_to_moves_the_request_and_the_targets_rules_do_not_run(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    finance = await new_loop(
        api,
        "finance",
        reviewers=[bob],
        required_approvals=1,
        default_timeout_seconds=600,
        rules=[{"when": "true", "action": "auto_approve"}],
    )
    route = {"when": "metadata.amount >= 10000", "action": "route_to", "loop_id": finance["id"]}
    triage = await new_loop(api, "triage", reviewers=[ann], rules=[route])

    moved = await new_request(api, triage["id"], metadata={"amount": 25000})
    assert moved["loop_id"] == finance["id"]
    assert moved["status"] == "pending", "routing is one hop: finance's rules are not read"
    assert moved["timeout_seconds"] == 600, "the target loop's settings apply"
    [created] = await events_of(api, moved["id"])
    assert created["loop_id"] == finance["id"]
    assert created["data"]["routed_from"] == triage["id"]
    assert created["data"]["rules"]["fired"] == [{"index": 0, **route}]
    assert_problem(await vote(api, "ann", moved["id"]), 403)
    assert (await vote(api, "bob", moved["id"])).json()["decision"] == "approved"

    stays = await new_request(api, triage["id"], metadata={"amount": 5})
    assert stays["loop_id"] == triage["id"]

    r = await api.as_("admin", "DELETE", f"/v1/loops/{finance['id']}")
    assert_problem(r, 409, slug="conflict")
    assert triage["id"] in r.json()["detail"]


async def test_adjusting_rules_apply_together_and_win_over_the_body(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    rules = [
        {"when": "metadata.amount > 1000", "action": "require_approvals", "approvals": 2},
        {"when": "metadata.amount > 1000", "action": "set_priority", "priority": "urgent"},
        {"when": "metadata.amount > 1000", "action": "set_timeout", "timeout_seconds": 3600},
        {"when": "true", "action": "set_priority", "priority": "low"},
    ]
    loop = await new_loop(api, reviewers=[ann, bob], rules=rules)
    made = await new_request(
        api,
        loop["id"],
        metadata={"amount": 5000},
        priority="normal",
        required_approvals=1,
        timeout_seconds=60,
    )
    assert made["required_approvals"] == 2
    assert made["priority"] == "urgent", "the first rule for a setting wins"
    assert made["timeout_seconds"] == 3600 and made["deadline_at"] is not None
    [created] = await events_of(api, made["id"])
    assert [f["index"] for f in created["data"]["rules"]["fired"]] == [0, 1, 2, 3]
    first = (await vote(api, "ann", made["id"])).json()
    assert (first["status"], first["approvals"], first["required_approvals"]) == ("pending", 1, 2)
    assert (await vote(api, "bob", made["id"])).json()["decision"] == "approved"

    small = await new_request(api, loop["id"], metadata={"amount": 5}, timeout_seconds=60)
    assert (small["priority"], small["required_approvals"], small["timeout_seconds"]) == (
        "low",
        1,
        60,
    )


async def test_a_batch_runs_the_rules_on_each_item(api: Api) -> None:
    loop = await new_loop(api, rules=[SMALL])
    items = [{"content": f"c{n}", "metadata": {"amount": n}} for n in (5, 500, 50)]
    r = await api.as_(
        "requester", "POST", f"/v1/loops/{loop['id']}/requests/batch", json={"items": items}
    )
    assert r.status_code == 201, r.text
    assert [m["status"] for m in r.json()["data"]] == ["completed", "pending", "completed"]


def _fields(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body["errors"]}


async def test_a_rule_that_does_not_compile_is_a_422_naming_it(api: Api) -> None:
    before = await snapshot(api)
    bad = [SMALL, {"when": "metadata.amount <", "action": "auto_approve"}]
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": "p", "rules": bad})
    body = assert_problem(r, 422, slug="validation-failed", fields=["body.rules.1.when"])
    assert _fields(body)["body.rules.1.when"].startswith("line 1, column 18: Syntax error")
    assert await snapshot(api) == before

    loop = await new_loop(api, rules=[SMALL])
    r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"rules": bad})
    assert_problem(r, 422, fields=["body.rules.1.when"])
    r = await api.as_(
        "admin",
        "PATCH",
        f"/v1/loops/{loop['id']}",
        json={"rules": [{"when": "metdata.x", "action": "auto_approve"}]},
    )
    assert "unknown name metdata" in _fields(assert_problem(r, 422))["body.rules.0.when"]
    kept = await api.as_("admin", "GET", f"/v1/loops/{loop['id']}")
    assert kept.json()["rules"] == [shown(SMALL)]


async def test_a_rule_set_with_a_wrong_action_or_argument_is_refused(api: Api) -> None:
    loop = await new_loop(api)
    ghost = "loop_01J00000000000000000000000"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"when": "true", "action": "launch"}, "body.rules.0.action"),
        ({"when": "true", "action": "route_to"}, "body.rules.0.loop_id"),
        ({"when": "true", "action": "route_to", "loop_id": ghost}, "body.rules.0.loop_id"),
        ({"when": "true", "action": "route_to", "loop_id": loop["id"]}, "body.rules.0.loop_id"),
        ({"when": "true", "action": "require_approvals"}, "body.rules.0.approvals"),
        ({"when": "true", "action": "require_approvals", "approvals": 0}, "body.rules.0.approvals"),
        ({"when": "true", "action": "set_priority", "priority": "asap"}, "body.rules.0.priority"),
        ({"when": "true", "action": "set_timeout"}, "body.rules.0.timeout_seconds"),
        ({"when": "true", "action": "auto_approve", "approvals": 2}, "body.rules.0.approvals"),
        ({"action": "auto_approve"}, "body.rules.0.when"),
        ({"when": "true", "action": "auto_approve", "then": 1}, "body.rules.0.then"),
    ]
    for rule, field in cases:
        r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"rules": [rule]})
        assert_problem(r, 422, fields=[field])
    r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"rules": None})
    assert_problem(r, 422, fields=["body.rules"])
    assert (await api.as_("admin", "GET", f"/v1/loops/{loop['id']}")).json()["rules"] == []
