"""The main path over HTTP: loop, request, votes, decision, long-poll, events."""

from __future__ import annotations

import asyncio
import itertools

from tests.conftest import Api


async def _loop(api: Api, reviewers: list[str], **extra: object) -> str:
    r = await api.as_(
        "admin", "POST", "/v1/loops", json={"name": "payments", "reviewers": reviewers, **extra}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _request(api: Api, loop_id: str, **body: object) -> dict[str, object]:
    r = await api.as_(
        "requester",
        "POST",
        f"/v1/loops/{loop_id}/requests",
        json={"content": "Refund $120 to Bob", **body},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_create_decide_and_read_the_response(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop_id = await _loop(api, [ann])
    created = await _request(api, loop_id, metadata={"ticket": 7}, title="Refund")
    assert created["status"] == "pending"
    assert str(created["review_url"]).endswith(f"/requests/{created['id']}")

    r = await api.as_(
        "ann",
        "POST",
        f"/v1/requests/{created['id']}/decisions",
        json={"decision": "approve", "edited_content": "Refund $100 to Bob"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "completed"

    r = await api.as_("requester", "GET", f"/v1/requests/{created['id']}/response")
    body = r.json()
    assert body == {
        "request_id": created["id"],
        "status": "completed",
        "decision": "approved",
        "feedback": None,
        "content": "Refund $100 to Bob",
        "edited": True,
        "response_data": None,
        "decided_by": body["decided_by"],
        "completed_at": body["completed_at"],
    }
    assert body["decided_by"][0]["user_id"] == ann
    status = (await api.as_("requester", "GET", f"/v1/requests/{created['id']}/status")).json()
    assert status == {"id": created["id"], "status": "completed", "decision": "approved"}


async def test_quorum_needs_distinct_reviewers(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop_id = await _loop(api, [ann, bob], required_approvals=2)
    req = await _request(api, loop_id)
    url = f"/v1/requests/{req['id']}/decisions"
    first = await api.as_("ann", "POST", url, json={"decision": "approve"})
    assert first.json()["status"] == "pending" and first.json()["approvals"] == 1
    again = await api.as_("ann", "POST", url, json={"decision": "approve"})
    assert again.status_code == 409
    second = await api.as_("bob", "POST", url, json={"decision": "approve"})
    assert second.json()["decision"] == "approved"
    late = await api.as_("admin", "POST", url, json={"decision": "reject", "feedback": "no"})
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"


async def test_long_poll_wakes_when_the_decision_commits(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    req = await _request(api, await _loop(api, [ann]))
    waiting = asyncio.create_task(
        api.as_("requester", "GET", f"/v1/requests/{req['id']}/response", params={"wait": 30})
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    loop = asyncio.get_running_loop()
    r = await api.as_(
        "ann",
        "POST",
        f"/v1/requests/{req['id']}/decisions",
        json={"decision": "reject", "feedback": "wrong amount"},
    )
    decided_at = loop.time()
    answer = await asyncio.wait_for(waiting, 5)
    assert loop.time() - decided_at < 1.0
    assert answer.json()["decision"] == "rejected"
    assert answer.json()["feedback"] == "wrong amount"
    assert r.status_code == 201


async def test_events_are_chained_and_readable(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    req = await _request(api, await _loop(api, [ann]))
    await api.as_(
        "ann", "POST", f"/v1/requests/{req['id']}/decisions", json={"decision": "approve"}
    )
    own = (await api.as_("requester", "GET", f"/v1/requests/{req['id']}/events")).json()["data"]
    assert [e["type"] for e in own] == ["request.created", "request.vote", "request.completed"]
    for _ in range(50):
        feed = (await api.as_("admin", "GET", "/v1/events", params={"limit": 500})).json()["data"]
        if len(feed) >= 8:
            break
        await asyncio.sleep(0.05)
    seqs = [e["seq"] for e in feed]
    assert seqs == list(range(1, len(seqs) + 1))
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(feed))
    after = (await api.as_("admin", "GET", "/v1/events", params={"after": seqs[-2]})).json()
    assert [e["seq"] for e in after["data"]] == [seqs[-1]]


async def test_a_body_that_is_not_labelled_json_says_so(api: Api) -> None:
    r = await api.as_(
        "admin",
        "POST",
        "/v1/loops",
        content=b"name=payments",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "Content-Type: application/json" in r.json()["detail"]
