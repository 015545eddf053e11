"""Requests over HTTP: every field, batches, lists, updates, cancels, votes and idempotency."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from signoff.domain.ids import id_time, new_id
from signoff.store.tables import requests as requests_table
from tests.api.test_errors import (
    all_events,
    all_pages,
    assert_problem,
    case,
    snapshot,
)
from tests.api.test_loops import new_loop
from tests.conftest import Api

TOKEN = "tok-SECRET-b7e1c0"
USERNAME = "user-SECRET-5d2a"
PASSWORD = "pw-SECRET-9f3e4a"
SECRETS = (TOKEN, USERNAME, PASSWORD)
GHOST = "req_01J00000000000000000000000"


def skip_url_checks(api: Api) -> None:
    """Callback URLs need not resolve here: the SSRF guard has tests of its own (webhooks)."""
    api.ctx.check_url = None


async def new_request(
    api: Api, loop_id: object, who: str = "requester", **fields: object
) -> dict[str, Any]:
    body = {"content": "Refund $120 to Bob", **fields}
    r = await api.as_(who, "POST", f"/v1/loops/{loop_id}/requests", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def vote(api: Api, who: str, request_id: object, **body: object) -> dict[str, Any]:
    r = await api.as_(who, "POST", f"/v1/requests/{request_id}/decisions", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def get(api: Api, request_id: object, what: str = "") -> dict[str, Any]:
    r = await api.as_("requester", "GET", f"/v1/requests/{request_id}{what}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def history(api: Api, request_id: object) -> list[str]:
    return [e["type"] for e in (await get(api, request_id, "/events"))["data"]]


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def rfc(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def content_hash(content: Any, context: Any) -> str:
    canonical = json.dumps(
        {"content": content, "context": context},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


REQUEST_FIELDS = {
    "id", "loop_id", "status", "decision", "title", "content", "content_type", "content_hash",
    "context", "metadata", "ai_analysis", "response", "priority", "required_approvals",
    "requested_by", "timeout_seconds", "timeout_action", "deadline_at", "callback",
    "previous_request_id", "feedback", "final_content", "edited", "response_data", "decided_by",
    "review_url", "created_at", "updated_at", "completed_at", "stage", "stages",
    "picked_up_at", "pickup_deadline_at", "escalation_level", "added_reviewers", "assignees",
    "claim",
}  # fmt: skip


# Every field


async def test_every_field_round_trips(api: Api) -> None:
    skip_url_checks(api)
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann], allow_timeout_approval=True)
    earlier = await new_request(api, loop["id"])
    sent = {
        "content": {"to": "bob@example.com", "amount": 120, "items": [1, 2.5, None, True]},
        "title": "Refund for order #7 — ünïcödé 🚀",
        "content_type": "json",
        "priority": "urgent",
        "context": {"ticket": "T-7", "history": ["asked twice"], "nested": {"deep": [{}]}},
        "metadata": {"customer": "bob@example.com", "ticket_id": 7, "vip": True, "tags": []},
        "ai_analysis": {
            "confidence": 0.82,
            "risk_score": 0.4,
            "flags": ["refund", "large"],
            "summary": "Looks right",
            "model": "some-llm",
            "extra": {"tokens": 123},
        },
        "response": {"type": "approval"},
        "required_approvals": 1,
        "requested_by": "agent-7",
        "timeout_seconds": 3600,
        "timeout_action": "approve",
        "callback": {
            "url": "https://hooks.example.com/signoff?x=1",
            "events": ["request.completed"],
            "auth": {"strategy": "bearer", "token": TOKEN},
        },
        "previous_request_id": earlier["id"],
    }
    r = await api.as_("requester", "POST", f"/v1/loops/{loop['id']}/requests", json=sent)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == REQUEST_FIELDS
    assert created["id"].startswith("req_")
    for name, value in sent.items():
        if name != "callback":
            assert created[name] == value, name
    assert created["callback"] == {
        "url": "https://hooks.example.com/signoff?x=1",
        "events": ["request.completed"],
        "auth": {"strategy": "bearer"},
    }
    assert created["loop_id"] == loop["id"]
    assert created["status"] == "pending"
    assert created["decision"] is None
    assert created["content_hash"] == content_hash(sent["content"], sent["context"])
    assert created["created_at"] == created["updated_at"]
    assert when(created["deadline_at"]) - when(created["created_at"]) == timedelta(hours=1)
    assert created["review_url"] == f"http://testserver/requests/{created['id']}"
    for name in ("feedback", "final_content", "response_data", "decided_by", "completed_at"):
        assert created[name] is None, name
    assert created["edited"] is False
    assert TOKEN not in r.text

    assert await get(api, created["id"]) == created
    listed = await all_pages(api, "/v1/requests", params={"loop_id": loop["id"]})
    assert listed[0] == created
    event = (await get(api, created["id"], "/events"))["data"][0]
    assert event["type"] == "request.created"
    assert event["data"]["metadata"] == sent["metadata"]
    assert event["data"]["content"] == sent["content"]


async def test_the_defaults_of_a_minimal_request_come_from_its_loop(api: Api) -> None:
    loop = await new_loop(api, required_approvals=3, default_timeout_seconds=600)
    created = await new_request(api, loop["id"])
    assert {k: created[k] for k in REQUEST_FIELDS - {"id", "created_at", "updated_at"}} == {
        "loop_id": loop["id"],
        "status": "pending",
        "decision": None,
        "title": None,
        "content": "Refund $120 to Bob",
        "content_type": "text",
        "content_hash": content_hash("Refund $120 to Bob", None),
        "context": None,
        "metadata": {},
        "ai_analysis": None,
        "response": {"type": "approval"},
        "priority": "normal",
        "required_approvals": 3,
        "requested_by": None,
        "timeout_seconds": 600,
        "timeout_action": "expire",
        "deadline_at": created["deadline_at"],
        "callback": None,
        "previous_request_id": None,
        "feedback": None,
        "final_content": None,
        "edited": False,
        "response_data": None,
        "decided_by": None,
        "review_url": f"http://testserver/requests/{created['id']}",
        "completed_at": None,
        "picked_up_at": None,
        "pickup_deadline_at": None,
        "escalation_level": 0,
        "added_reviewers": [],
        "stage": None,
        "stages": None,
        "assignees": [],
        "claim": None,
    }
    assert when(created["deadline_at"]) - when(created["created_at"]) == timedelta(minutes=10)
    own = await new_request(api, loop["id"], required_approvals=1, timeout_seconds=5)
    assert (own["required_approvals"], own["timeout_seconds"]) == (1, 5)


async def test_every_response_shape_round_trips(api: Api) -> None:
    loop = await new_loop(api)
    schema = {
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "number", "minimum": 0}, "note": {"type": "string"}},
    }
    one = {"type": "choice", "options": ["a", "b"]}
    many = {"type": "choice", "options": ["a"], "multiple": True}
    shapes = [
        ({"type": "approval"}, {"type": "approval"}),
        ({"type": "text"}, {"type": "text"}),
        (one, {**one, "multiple": False}),
        (many, many),
        ({"type": "form", "schema": schema}, {"type": "form", "schema": schema}),
    ]
    for sent, answered in shapes:
        with case(sent):
            created = await new_request(api, loop["id"], response=sent)
            assert created["response"] == answered
            assert (await get(api, created["id"]))["response"] == answered
    for content_type in ("text", "markdown", "html", "image_url"):
        with case(content_type):
            created = await new_request(
                api, loop["id"], content="<b>x</b>", content_type=content_type
            )
            assert created["content_type"] == content_type
    for content in ("plain", 7, 1.5, True, ["a"], {"k": {"v": [None]}}):
        with case(content):
            created = await new_request(api, loop["id"], content=content, content_type="json")
            assert (await get(api, created["id"]))["content"] == content


async def _scan_for_secrets(api: Api, request_ids: list[str]) -> list[str]:
    """The text of every answer that could carry a request's callback."""
    texts = []
    for url in ("/v1/requests", "/v1/events"):
        texts.append((await api.as_("admin", "GET", url, params={"limit": 500})).text)
    for request_id in request_ids:
        for what in ("", "/status", "/response", "/events"):
            texts.append((await api.as_("admin", "GET", f"/v1/requests/{request_id}{what}")).text)
    return texts


async def test_callback_credentials_never_leave_the_server(api: Api) -> None:
    skip_url_checks(api)
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    url = f"/v1/loops/{loop['id']}/requests"
    bearer = {"url": "https://a.example/hook", "auth": {"strategy": "bearer", "token": TOKEN}}
    basic = {
        "url": "https://b.example/hook",
        "auth": {"strategy": "basic", "username": USERNAME, "password": PASSWORD},
    }
    answers = []
    single = await api.as_(
        "requester",
        "POST",
        url,
        json={"content": "x", "callback": bearer},
        headers={"Idempotency-Key": "k1"},
    )
    replay = await api.as_(
        "requester",
        "POST",
        url,
        json={"content": "x", "callback": bearer},
        headers={"Idempotency-Key": "k1"},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    batch = await api.as_(
        "requester",
        "POST",
        f"{url}/batch",
        json={"items": [{"content": "y", "callback": basic}, {"content": "z", "callback": bearer}]},
    )
    answers += [single, replay, batch]
    assert all(r.status_code == 201 for r in answers)
    ids = [single.json()["id"], *(r["id"] for r in batch.json()["data"])]
    assert single.json()["callback"] == {
        "url": bearer["url"],
        "events": None,
        "auth": {"strategy": "bearer"},
    }
    assert batch.json()["data"][0]["callback"]["auth"] == {"strategy": "basic"}
    answers.append(
        await api.as_("requester", "PATCH", f"/v1/requests/{ids[0]}", json={"content": "x2"})
    )
    answers.append(
        await api.as_(
            "ann", "POST", f"/v1/requests/{ids[0]}/decisions", json={"decision": "approve"}
        )
    )
    answers.append(await api.as_("requester", "POST", f"/v1/requests/{ids[1]}/cancel"))
    texts = [r.text for r in answers] + await _scan_for_secrets(api, ids)
    texts += [json.dumps(e) for e in await all_events(api)]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    # …yet they are kept, for the deliveries that need them.
    async with api.ctx.db.read() as conn:
        stored = await conn.execute(
            sa.select(requests_table.c.id, requests_table.c.callback_auth).where(
                requests_table.c.id.in_(ids)
            )
        )
        auth = {row.id: row.callback_auth for row in stored}
    assert auth[ids[0]] == bearer["auth"]
    assert auth[ids[1]] == basic["auth"]


# Batches


async def test_a_batch_of_500_is_created_in_one_call_in_order(api: Api) -> None:
    loop = await new_loop(api)
    items = [{"content": f"item {i}", "metadata": {"i": i}} for i in range(500)]
    r = await api.as_(
        "requester", "POST", f"/v1/loops/{loop['id']}/requests/batch", json={"items": items}
    )
    assert r.status_code == 201, r.text[:500]
    page = r.json()
    assert set(page) == {"data", "next_cursor"}
    assert page["next_cursor"] is None
    assert [x["content"] for x in page["data"]] == [f"item {i}" for i in range(500)]
    assert all(
        x["status"] == "pending" and x["metadata"] == {"i": i} for i, x in enumerate(page["data"])
    )
    ids = [x["id"] for x in page["data"]]
    assert ids == sorted(ids) and len(set(ids)) == 500
    listed = await all_pages(api, "/v1/requests")
    assert sorted(x["id"] for x in listed) == ids
    created = [e for e in await all_events(api, type="request.created")]
    assert sorted(e["request_id"] for e in created) == ids


async def test_a_batch_with_one_bad_item_creates_nothing(api: Api) -> None:
    loop = await new_loop(api)
    url = f"/v1/loops/{loop['id']}/requests/batch"
    before = await snapshot(api)
    good = [{"content": f"item {i}"} for i in range(500)]
    bad_items: list[tuple[dict[str, Any], str]] = [
        ({"content": None}, "body.items.317.content"),
        ({"content": "x", "priority": "asap"}, "body.items.317.priority"),
        ({"content": "x", "metadata": {"k": "x" * 20_000}}, "body.items.317.metadata"),
        ({"content": "x", "response": {"type": "choice"}}, "body.items.317.response.options"),
        ({"content": "x", "timeout_action": "approve"}, "body.items.317.timeout_action"),
        ({"content": "x", "previous_request_id": GHOST}, "body.items.317.previous_request_id"),
    ]
    for bad, field in bad_items:
        with case(bad):
            items = [*good[:317], bad, *good[318:]]
            r = await api.as_("requester", "POST", url, json={"items": items})
            assert_problem(r, 422, fields={field})
    for items, field in (([], "body.items"), ([{"content": "x"}] * 1001, "body.items")):
        with case(len(items)):
            r = await api.as_("requester", "POST", url, json={"items": items})
            assert_problem(r, 422, fields={field})
    assert_problem(await api.as_("requester", "POST", url, json={}), 422, fields={"body.items"})
    assert await snapshot(api) == before


# Lists


async def test_filters_select_exactly_the_matching_requests(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    one = await new_loop(api, "one", reviewers=[ann])
    two = await new_loop(api, "two")
    made: list[dict[str, Any]] = []
    for i in range(12):
        loop = one if i % 2 else two
        made.append(
            await new_request(api, loop["id"], priority=["low", "normal", "high", "urgent"][i % 4])
        )
    await api.as_("requester", "POST", f"/v1/requests/{made[3]['id']}/cancel")
    await vote(api, "ann", made[5]["id"], decision="approve")
    await vote(api, "admin", made[6]["id"], decision="reject", feedback="no")
    latest = {r["id"]: r for r in await all_pages(api, "/v1/requests")}
    assert len(latest) == 12

    def expect(keep: Any) -> list[str]:
        return sorted((i for i, r in latest.items() if keep(r)), reverse=True)

    stamps = sorted(r["created_at"] for r in latest.values())
    cases: list[tuple[dict[str, Any], Any]] = [
        ({}, lambda r: True),
        ({"loop_id": one["id"]}, lambda r: r["loop_id"] == one["id"]),
        ({"loop_id": "loop_01J00000000000000000000000"}, lambda r: False),
        ({"status": "pending"}, lambda r: r["status"] == "pending"),
        ({"status": "completed"}, lambda r: r["status"] == "completed"),
        ({"status": "cancelled"}, lambda r: r["status"] == "cancelled"),
        ({"status": "timed_out"}, lambda r: False),
        ({"priority": "urgent"}, lambda r: r["priority"] == "urgent"),
        (
            {"loop_id": two["id"], "status": "pending", "priority": "low"},
            lambda r: (
                r["loop_id"] == two["id"] and r["status"] == "pending" and r["priority"] == "low"
            ),
        ),
        ({"created_after": stamps[4]}, lambda r: r["created_at"] >= stamps[4]),
        ({"created_before": stamps[4]}, lambda r: r["created_at"] < stamps[4]),
        (
            {"created_after": stamps[2], "created_before": stamps[9]},
            lambda r: stamps[2] <= r["created_at"] < stamps[9],
        ),
        (
            {"created_after": stamps[2].replace("Z", "+00:00")},
            lambda r: r["created_at"] >= stamps[2],
        ),
    ]
    for params, keep in cases:
        with case(params):
            found = await all_pages(api, "/v1/requests", params=params)
            assert [r["id"] for r in found] == expect(keep)
            small = await all_pages(api, "/v1/requests", params={**params, "limit": 2})
            assert small == found
    # A reviewer's list holds only the requests of its loops, whatever it asks for.
    mine = await all_pages(api, "/v1/requests", who="ann")
    assert [r["id"] for r in mine] == expect(lambda r: r["loop_id"] == one["id"])
    theirs = await all_pages(api, "/v1/requests", who="ann", params={"loop_id": two["id"]})
    assert theirs == []


async def test_created_bounds_are_exact_to_the_microsecond(api: Api) -> None:
    """`created_after` is inclusive and `created_before` exclusive, on `created_at` itself:
    ids only know the millisecond, and two requests can be made within one."""
    loop = await new_loop(api)
    real = api.ctx.clock
    # On a millisecond a little ahead of the real clock (ids made so far are older).
    soon = real() + timedelta(milliseconds=20)
    base = soon.replace(microsecond=soon.microsecond // 1000 * 1000)
    made: list[dict[str, Any]] = []
    try:
        for offset in (200, 700, 1300):  # µs: the first two in one millisecond
            moment = base + timedelta(microseconds=offset)
            api.ctx.clock = lambda moment=moment: moment  # type: ignore[misc]
            made.append(await new_request(api, loop["id"]))
        # An id made at a later time first: the next request's id runs ahead of its time.
        new_id("evt", base + timedelta(milliseconds=3))
        late = base + timedelta(microseconds=1500)
        api.ctx.clock = lambda: late
        made.append(await new_request(api, loop["id"]))
    finally:
        api.ctx.clock = real
    first, second, third, ahead = made
    offsets = [when(r["created_at"]) - base for r in made]
    assert offsets == [timedelta(microseconds=us) for us in (200, 700, 1300, 1500)]
    assert id_time(ahead["id"]) > when(ahead["created_at"])
    cases = [
        ({"created_after": second["created_at"]}, [ahead, third, second]),
        ({"created_after": first["created_at"]}, [ahead, third, second, first]),
        ({"created_before": second["created_at"]}, [first]),
        ({"created_before": third["created_at"]}, [second, first]),
        ({"created_before": rfc(base + timedelta(milliseconds=2))}, made[::-1]),
        (
            {"created_after": second["created_at"], "created_before": third["created_at"]},
            [second],
        ),
        ({"created_after": rfc(base + timedelta(microseconds=701))}, [ahead, third]),
    ]
    for params, expected in cases:
        with case(params):
            found = await all_pages(api, "/v1/requests", params={"loop_id": loop["id"], **params})
            assert [r["id"] for r in found] == [r["id"] for r in expected]


async def test_pagination_visits_every_row_exactly_once_newest_first(api: Api) -> None:
    loop = await new_loop(api)
    batch = await api.as_(
        "requester",
        "POST",
        f"/v1/loops/{loop['id']}/requests/batch",
        json={"items": [{"content": str(i)} for i in range(23)]},
    )
    ids = [x["id"] for x in batch.json()["data"]]
    singles = [(await new_request(api, loop["id"]))["id"] for _ in range(4)]
    everything = sorted(ids + singles, reverse=True)
    for limit in (1, 5, 26, 27, 28):
        with case(limit):
            seen: list[str] = []
            cursor = None
            pages = 0
            while True:
                params: dict[str, Any] = {"limit": limit}
                if cursor:
                    params["cursor"] = cursor
                page = (await api.as_("requester", "GET", "/v1/requests", params=params)).json()
                assert len(page["data"]) <= limit
                seen += [x["id"] for x in page["data"]]
                pages += 1
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == everything
            assert pages == -(-len(everything) // limit)
    # A request made mid-walk is newer than the cursor: the rest of the walk is unchanged.
    first = (await api.as_("requester", "GET", "/v1/requests", params={"limit": 10})).json()
    await new_request(api, loop["id"])
    rest = await all_pages(api, "/v1/requests", params={"cursor": first["next_cursor"]})
    assert [x["id"] for x in first["data"]] + [x["id"] for x in rest] == everything


# Updates


async def test_patch_changes_a_pending_request(api: Api) -> None:
    loop = await new_loop(api)
    created = await new_request(api, loop["id"], title="t", context={"a": 1}, timeout_seconds=60)
    url = f"/v1/requests/{created['id']}"
    changes = {
        "title": "new title",
        "content": "Refund $100 to Bob",
        "context": {"a": 2},
        "metadata": {"ticket": 8},
        "priority": "high",
        "timeout_seconds": 7200,
    }
    r = await api.as_("requester", "PATCH", url, json=changes)
    assert r.status_code == 200, r.text
    patched = r.json()
    for name, value in changes.items():
        assert patched[name] == value, name
    assert patched["content_hash"] == content_hash("Refund $100 to Bob", {"a": 2})
    assert when(patched["deadline_at"]) - when(created["created_at"]) == timedelta(hours=2)
    assert patched["updated_at"] > created["updated_at"]
    assert patched["created_at"] == created["created_at"]
    assert await get(api, created["id"]) == patched
    updated = (await get(api, created["id"], "/events"))["data"][-1]
    assert updated["type"] == "request.updated"
    assert updated["data"]["changed"] == sorted(changes)
    # Nullable fields may be cleared; the others may not be nulled.
    cleared = await api.as_(
        "requester", "PATCH", url, json={"title": None, "context": None, "timeout_seconds": None}
    )
    assert cleared.status_code == 200
    assert (cleared.json()["title"], cleared.json()["context"], cleared.json()["deadline_at"]) == (
        None,
        None,
        None,
    )
    before = await snapshot(api)
    for field in ("content", "metadata", "priority"):
        with case(field):
            assert_problem(
                await api.as_("requester", "PATCH", url, json={field: None}),
                422,
                fields={f"body.{field}"},
            )
    for body, field in (
        ({"content": {"not": "text"}}, "body.content"),
        ({"status": "completed"}, "body.status"),
        ({"loop_id": "loop_x"}, "body.loop_id"),
        ({"priority": "asap"}, "body.priority"),
        ({"timeout_seconds": 0}, "body.timeout_seconds"),
    ):
        with case(body):
            assert_problem(await api.as_("requester", "PATCH", url, json=body), 422, fields={field})
    assert await snapshot(api) == before


async def test_only_a_pending_request_can_change(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    decided = await new_request(api, loop["id"])
    await vote(api, "ann", decided["id"], decision="approve")
    cancelled = await new_request(api, loop["id"])
    await api.as_("requester", "POST", f"/v1/requests/{cancelled['id']}/cancel")
    before = await snapshot(api)
    for request in (decided, cancelled):
        for body in ({"content": "new"}, {"priority": "low"}, {}):
            with case((request["id"], body)):
                r = await api.as_("requester", "PATCH", f"/v1/requests/{request['id']}", json=body)
                assert_problem(r, 409, slug="invalid-transition")
    assert await snapshot(api) == before


async def test_new_content_voids_earlier_votes_and_the_voter_votes_again(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop = await new_loop(api, reviewers=[ann, bob], required_approvals=2)
    created = await new_request(api, loop["id"], content="v1")
    url = f"/v1/requests/{created['id']}"
    first = await vote(api, "ann", created["id"], decision="approve", feedback="fine")
    assert (first["approvals"], first["status"]) == (1, "pending")

    # Metadata and priority are not what reviewers vote on: the vote stands.
    await api.as_("requester", "PATCH", url, json={"metadata": {"x": 1}, "priority": "high"})
    assert "request.votes_voided" not in await history(api, created["id"])
    # Sending the same content again changes nothing either.
    await api.as_("requester", "PATCH", url, json={"content": "v1"})
    assert "request.votes_voided" not in await history(api, created["id"])

    r = await api.as_("requester", "PATCH", url, json={"content": "v2"})
    assert r.status_code == 200
    assert await history(api, created["id"]) == [
        "request.created",
        "request.vote",
        "request.updated",
        "request.updated",
        "request.updated",
        "request.votes_voided",
    ]
    voided = (await get(api, created["id"], "/events"))["data"][-1]
    assert (
        voided["data"]
        | {
            "request_id": created["id"],
            "voided": 1,
            "old_content_hash": content_hash("v1", None),
            "content_hash": content_hash("v2", None),
        }
        == voided["data"]
    )
    # A vote cast on the old content, by its hash, is refused.
    stale = await api.as_(
        "bob",
        "POST",
        f"{url}/decisions",
        json={"decision": "approve", "content_hash": created["content_hash"]},
    )
    assert_problem(stale, 409)
    again = await vote(
        api, "ann", created["id"], decision="approve", content_hash=r.json()["content_hash"]
    )
    assert (again["approvals"], again["status"]) == (1, "pending")
    done = await vote(api, "bob", created["id"], decision="approve")
    assert (done["approvals"], done["status"], done["decision"]) == (2, "completed", "approved")
    response = await get(api, created["id"], "/response")
    assert response["content"] == "v2"
    assert [d["user_id"] for d in response["decided_by"]] == [ann, bob]
    assert response["feedback"] is None  # the voided vote's feedback went with it

    # Changing the context voids votes too.
    other = await new_request(api, loop["id"], context={"a": 1})
    await vote(api, "ann", other["id"], decision="approve")
    await api.as_("requester", "PATCH", f"/v1/requests/{other['id']}", json={"context": {"a": 2}})
    assert (await history(api, other["id"]))[-1] == "request.votes_voided"


# Cancel, status and response


async def test_cancel_a_pending_request(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    created = await new_request(api, loop["id"], metadata={"ticket": 7})
    url = f"/v1/requests/{created['id']}"
    r = await api.as_("requester", "POST", f"{url}/cancel", json={"reason": "customer withdrew"})
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert (cancelled["status"], cancelled["decision"]) == ("cancelled", None)
    assert cancelled["feedback"] == "customer withdrew"
    assert cancelled["completed_at"] is not None
    assert await get(api, created["id"], "/status") == {
        "id": created["id"],
        "status": "cancelled",
        "decision": None,
    }
    event = (await get(api, created["id"], "/events"))["data"][-1]
    assert event["type"] == "request.cancelled"
    assert event["data"]["reason"] == "customer withdrew"
    assert event["data"]["metadata"] == {"ticket": 7}
    before = await snapshot(api)
    assert_problem(
        await api.as_("requester", "POST", f"{url}/cancel"), 409, slug="invalid-transition"
    )
    assert_problem(
        await api.as_("ann", "POST", f"{url}/decisions", json={"decision": "approve"}), 409
    )
    assert await snapshot(api) == before
    # The body is optional: none, an empty object, or null.
    for body in (None, {}, "null"):
        with case(body):
            other = await new_request(api, loop["id"])
            kw: dict[str, Any] = {"content": body, "headers": {"content-type": "application/json"}}
            if body is None:
                kw = {}
            elif isinstance(body, dict):
                kw = {"json": body}
            r = await api.as_("requester", "POST", f"/v1/requests/{other['id']}/cancel", **kw)
            assert r.status_code == 200, r.text
            assert (r.json()["status"], r.json()["feedback"]) == ("cancelled", None)


async def test_status_and_response_use_the_documented_field_names(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    created = await new_request(api, loop["id"])
    status = await get(api, created["id"], "/status")
    assert status == {"id": created["id"], "status": "pending", "decision": None}
    response = await get(api, created["id"], "/response")
    assert response == {
        "request_id": created["id"],
        "status": "pending",
        "decision": None,
        "feedback": None,
        "content": None,
        "edited": False,
        "response_data": None,
        "decided_by": None,
        "completed_at": None,
    }
    await vote(api, "ann", created["id"], decision="needs_changes", feedback="say why")
    status = await get(api, created["id"], "/status")
    assert status == {"id": created["id"], "status": "completed", "decision": "needs_changes"}
    response = await get(api, created["id"], "/response")
    assert set(response) == {
        "request_id", "status", "decision", "feedback", "content", "edited", "response_data",
        "decided_by", "completed_at",
    }  # fmt: skip
    assert (response["decision"], response["feedback"], response["content"]) == (
        "needs_changes",
        "say why",
        "Refund $120 to Bob",
    )
    assert response["completed_at"] == (await get(api, created["id"]))["completed_at"]


# Decisions


async def test_one_approval_completes_a_request_and_tells_who_decided(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    created = await new_request(api, loop["id"], metadata={"ticket": 7})
    answer = await vote(api, "ann", created["id"], decision="approve", feedback="ok")
    assert set(answer) == {
        "vote_id",
        "request_id",
        "choice",
        "approvals",
        "required_approvals",
        "status",
        "decision",
        "stage",
    }
    assert answer["vote_id"].startswith("vote_")
    assert answer == {
        "vote_id": answer["vote_id"],
        "request_id": created["id"],
        "choice": "approve",
        "approvals": 1,
        "required_approvals": 1,
        "status": "completed",
        "decision": "approved",
        "stage": None,
    }
    request = await get(api, created["id"])
    assert (request["status"], request["decision"], request["feedback"]) == (
        "completed",
        "approved",
        "ok",
    )
    assert (request["final_content"], request["edited"]) == ("Refund $120 to Bob", False)
    [decider] = request["decided_by"]
    assert (decider["user_id"], decider["email"], decider["role"]) == (
        ann,
        "ann@example.com",
        "reviewer",
    )
    assert await history(api, created["id"]) == [
        "request.created",
        "request.vote",
        "request.completed",
    ]
    completed = (await get(api, created["id"], "/events"))["data"][-1]
    assert completed["data"]["decision"] == "approved"
    assert completed["data"]["metadata"] == {"ticket": 7}


async def test_a_quorum_needs_that_many_distinct_approvals(api: Api) -> None:
    names = ["ann", "bob", "cat"]
    ids = [await api.add_reviewer(n) for n in names]
    loop = await new_loop(api, reviewers=ids, required_approvals=2)
    created = await new_request(api, loop["id"], required_approvals=3)
    for count, name in enumerate(names, start=1):
        answer = await vote(api, name, created["id"], decision="approve", feedback=f"{name} ok")
        assert answer["approvals"] == count
        assert answer["required_approvals"] == 3
        assert answer["status"] == ("completed" if count == 3 else "pending")
    request = await get(api, created["id"])
    assert [d["user_id"] for d in request["decided_by"]] == ids
    assert request["feedback"] == "ann ok\n\nbob ok\n\ncat ok"


async def test_one_rejection_or_change_request_decides_however_many_approvals(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop = await new_loop(api, reviewers=[ann, bob], required_approvals=2)
    for choice, decision in (("reject", "rejected"), ("needs_changes", "needs_changes")):
        with case(choice):
            created = await new_request(api, loop["id"])
            await vote(api, "ann", created["id"], decision="approve")
            answer = await vote(api, "bob", created["id"], decision=choice, feedback="too much")
            assert (answer["status"], answer["decision"], answer["approvals"]) == (
                "completed",
                decision,
                1,
            )
            response = await get(api, created["id"], "/response")
            assert (response["decision"], response["feedback"]) == (decision, "too much")
            assert [d["user_id"] for d in response["decided_by"]] == [bob]
            alone = await new_request(api, loop["id"])
            answer = await vote(api, "ann", alone["id"], decision=choice, feedback="no")
            assert answer["decision"] == decision
    created = await new_request(api, loop["id"])
    before = await snapshot(api)
    for choice in ("reject", "needs_changes"):
        for feedback in (None, "", "   "):
            with case((choice, feedback)):
                r = await api.as_(
                    "ann",
                    "POST",
                    f"/v1/requests/{created['id']}/decisions",
                    json={"decision": choice, "feedback": feedback},
                )
                assert_problem(r, 422, fields={"body.feedback"})
    for body, field in (
        ({"decision": "maybe"}, "body.decision"),
        ({}, "body.decision"),
        ({"decision": "approve", "feedback": 5}, "body.feedback"),
    ):
        with case(body):
            r = await api.as_("ann", "POST", f"/v1/requests/{created['id']}/decisions", json=body)
            assert_problem(r, 422, fields={field})
    assert await snapshot(api) == before


async def test_nobody_approves_their_own_request_unless_the_loop_allows_it(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    boss = await api.as_(
        "admin",
        "POST",
        "/v1/users",
        json={"email": "boss@example.com", "name": "Boss", "role": "admin"},
    )
    boss_id = boss.json()["id"]
    for name in ("boss1", "boss2"):
        key = await api.as_(
            "admin",
            "POST",
            "/v1/api-keys",
            json={"name": name, "role": "admin", "user_id": boss_id},
        )
        api.keys[name] = key.json()["key"]
    strict = await new_loop(api, "strict", reviewers=[ann])
    lenient = await new_loop(api, "lenient", reviewers=[ann], allow_self_approval=True)
    cases = [
        ("ann", "requester", {"requested_by": ann}),
        ("ann", "requester", {"requested_by": "ann@example.com"}),
        ("ann", "requester", {"requested_by": "Ann@Example.COM"}),
        ("admin", "admin", {}),  # the key that created it
        ("boss2", "boss1", {}),  # another key of the user who created it
        ("boss1", "requester", {"requested_by": boss_id}),
    ]
    for voter, creator, fields in cases:
        with case((voter, creator, fields)):
            mine = await new_request(api, strict["id"], who=creator, **fields)
            before = await snapshot(api)
            r = await api.as_(
                voter, "POST", f"/v1/requests/{mine['id']}/decisions", json={"decision": "approve"}
            )
            body = assert_problem(r, 403, slug="forbidden")
            assert "own" in body["detail"]
            assert await snapshot(api) == before
            # Rejecting your own request is no self-approval.
            assert (await vote(api, voter, mine["id"], decision="reject", feedback="withdrawn"))[
                "decision"
            ] == "rejected"
            allowed = await new_request(api, lenient["id"], who=creator, **fields)
            assert (await vote(api, voter, allowed["id"], decision="approve"))[
                "decision"
            ] == "approved"
    # Someone else's request is fine.
    theirs = await new_request(api, strict["id"], requested_by="someone-else")
    assert (await vote(api, "ann", theirs["id"], decision="approve"))["decision"] == "approved"


async def test_only_the_loops_reviewers_and_admins_decide(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop = await new_loop(api, reviewers=[ann])
    created = await new_request(api, loop["id"])
    url = f"/v1/requests/{created['id']}/decisions"
    before = await snapshot(api)
    assert_problem(
        await api.as_("bob", "POST", url, json={"decision": "approve"}), 403, slug="forbidden"
    )
    assert_problem(
        await api.as_("requester", "POST", url, json={"decision": "approve"}), 403, slug="forbidden"
    )
    assert_problem(await api.as_("bob", "GET", f"/v1/requests/{created['id']}"), 403)
    assert await snapshot(api) == before
    assert (await vote(api, "admin", created["id"], decision="approve"))["decision"] == "approved"
    # …and a reviewer removed from the loop can no longer decide.
    second = await new_request(api, loop["id"])
    await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"reviewers": [bob]})
    r = await api.as_(
        "ann", "POST", f"/v1/requests/{second['id']}/decisions", json={"decision": "approve"}
    )
    assert_problem(r, 403)
    assert (await vote(api, "bob", second["id"], decision="approve"))["decision"] == "approved"


async def test_a_reviewer_votes_once_and_a_decided_request_stays_decided(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop = await new_loop(api, reviewers=[ann, bob], required_approvals=2)
    created = await new_request(api, loop["id"])
    url = f"/v1/requests/{created['id']}/decisions"
    await vote(api, "ann", created["id"], decision="approve")
    before = await snapshot(api)
    for body in ({"decision": "approve"}, {"decision": "reject", "feedback": "changed my mind"}):
        with case(body):
            assert_problem(await api.as_("ann", "POST", url, json=body), 409, slug="conflict")
    assert await snapshot(api) == before
    await vote(api, "bob", created["id"], decision="approve")
    decided = await snapshot(api)
    for who, body in (
        ("admin", {"decision": "reject", "feedback": "too late"}),
        ("bob", {"decision": "approve"}),
        ("ann", {"decision": "needs_changes", "feedback": "x"}),
    ):
        with case((who, body)):
            assert_problem(await api.as_(who, "POST", url, json=body), 409)
    assert await snapshot(api) == decided
    assert (await get(api, created["id"]))["decision"] == "approved"
    assert await history(api, created["id"]) == [
        "request.created", "request.vote", "request.vote", "request.completed",
    ]  # fmt: skip


async def test_response_data_must_fit_the_response_shape(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    schema = {
        "type": "object",
        "required": ["amount"],
        "properties": {
            "amount": {"type": "number", "minimum": 0},
            "note": {"type": "string"},
            "lines": {"type": "array", "items": {"type": "integer"}},
        },
        "additionalProperties": False,
    }
    shapes = {
        "single": {"type": "choice", "options": ["a", "b", "c"]},
        "multiple": {"type": "choice", "options": ["a", "b", "c"], "multiple": True},
        "text": {"type": "text"},
        "form": {"type": "form", "schema": schema},
    }
    wrong: list[tuple[str, Any, set[str]]] = [
        ("single", None, {"body.response_data"}),
        ("single", "z", {"body.response_data"}),
        ("single", ["a", "b"], {"body.response_data"}),
        ("single", 1, {"body.response_data"}),
        ("multiple", [], {"body.response_data"}),
        ("multiple", ["a", "z"], {"body.response_data"}),
        ("text", None, {"body.response_data"}),
        ("text", "", {"body.response_data"}),
        ("text", "  ", {"body.response_data"}),
        ("text", 5, {"body.response_data"}),
        ("form", None, {"body.response_data"}),
        ("form", "x", {"body.response_data"}),
        ("form", {}, {"body.response_data.amount"}),
        ("form", {"amount": "ten"}, {"body.response_data.amount"}),
        ("form", {"amount": -1}, {"body.response_data.amount"}),
        ("form", {"amount": 1, "lines": [1, "x"]}, {"body.response_data.lines.1"}),
        ("form", {"amount": 1, "colour": "red"}, {"body.response_data.colour"}),
        ("form", {"note": 5}, {"body.response_data.amount", "body.response_data.note"}),
    ]
    requests = {
        name: await new_request(api, loop["id"], response=spec) for name, spec in shapes.items()
    }
    before = await snapshot(api)
    for name, data, fields in wrong:
        with case((name, data)):
            url = f"/v1/requests/{requests[name]['id']}/decisions"
            r = await api.as_(
                "ann", "POST", url, json={"decision": "approve", "response_data": data}
            )
            assert_problem(r, 422, fields=fields)
    assert await snapshot(api) == before
    right: dict[str, Any] = {
        "single": "b",
        "multiple": ["a", "c"],
        "text": "Refund half",
        "form": {"amount": 60.5, "note": "half", "lines": [1, 2]},
    }
    for name, data in right.items():
        with case(name):
            await vote(api, "ann", requests[name]["id"], decision="approve", response_data=data)
            response = await get(api, requests[name]["id"], "/response")
            assert (response["decision"], response["response_data"]) == ("approved", data)
    # A rejection needs no answer.
    other = await new_request(api, loop["id"], response=shapes["form"])
    await vote(api, "ann", other["id"], decision="reject", feedback="no")
    assert (await get(api, other["id"], "/response"))["response_data"] is None


async def test_edited_content_only_when_approving(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    created = await new_request(api, loop["id"])
    url = f"/v1/requests/{created['id']}/decisions"
    choice = await new_request(api, loop["id"], response={"type": "choice", "options": ["a"]})
    before = await snapshot(api)
    for decision in ("reject", "needs_changes"):
        with case(decision):
            body = {"decision": decision, "feedback": "f", "edited_content": "other"}
            assert_problem(
                await api.as_("ann", "POST", url, json=body), 422, fields={"body.edited_content"}
            )
    body = {"decision": "approve", "response_data": "a", "edited_content": "other"}
    r = await api.as_("ann", "POST", f"/v1/requests/{choice['id']}/decisions", json=body)
    assert_problem(r, 422, fields={"body.edited_content"})
    r = await api.as_(
        "ann", "POST", url, json={"decision": "approve", "edited_content": {"not": "text"}}
    )
    assert_problem(r, 422, fields={"body.edited_content"})
    assert await snapshot(api) == before
    await vote(api, "ann", created["id"], decision="approve", edited_content="Refund $100 to Bob")
    response = await get(api, created["id"], "/response")
    assert (response["content"], response["edited"]) == ("Refund $100 to Bob", True)
    request = await get(api, created["id"])
    assert (request["content"], request["final_content"]) == (
        "Refund $120 to Bob",
        "Refund $100 to Bob",
    )
    # Edited back to the original is no edit.
    same = await new_request(api, loop["id"])
    await vote(api, "ann", same["id"], decision="approve", edited_content="Refund $120 to Bob")
    assert (await get(api, same["id"], "/response"))["edited"] is False


async def test_a_vote_on_changed_content_is_a_409_and_a_malformed_hash_a_422(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    created = await new_request(api, loop["id"])
    url = f"/v1/requests/{created['id']}/decisions"
    before = await snapshot(api)
    r = await api.as_(
        "ann", "POST", url, json={"decision": "approve", "content_hash": "sha256:" + "0" * 64}
    )
    assert_problem(r, 409, slug="conflict")
    # A hash the service could never have made is bad input, not a content change.
    malformed = (
        "nonsense",
        "",
        "sha256:x",
        "sha256:" + "0" * 63,
        "sha256:" + "A" * 64,
        "md5:" + "0" * 64,
        created["content_hash"] + " ",
    )
    for seen in malformed:
        with case(seen):
            r = await api.as_(
                "ann", "POST", url, json={"decision": "approve", "content_hash": seen}
            )
            body = assert_problem(r, 422, fields=["body.content_hash"])
            assert "sha256:" in body["errors"][0]["message"]
            assert "64" in body["errors"][0]["message"]
    assert await snapshot(api) == before
    answer = await vote(
        api, "ann", created["id"], decision="approve", content_hash=created["content_hash"]
    )
    assert answer["decision"] == "approved"


# Idempotency


async def test_every_post_replays_its_first_answer(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    first = await new_request(api, loop["id"])
    second = await new_request(api, loop["id"])
    in_loop = f"/v1/loops/{loop['id']}/requests"
    posts: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("admin", "/v1/loops", {"name": "again"}, "loop.created"),
        ("requester", in_loop, {"content": "x"}, "request.created"),
        ("requester", f"{in_loop}/batch", {"items": [{"content": "a"}] * 2}, "request.created"),
        ("requester", f"/v1/requests/{first['id']}/cancel", None, "request.cancelled"),
        ("ann", f"/v1/requests/{second['id']}/decisions", {"decision": "approve"}, "request.vote"),
        ("admin", "/v1/users", {"email": "new@example.com", "name": "New"}, "user.created"),
        ("admin", "/v1/api-keys", {"name": "k", "role": "requester"}, "api_key.created"),
    ]  # fmt: skip
    for who, url, body, event in posts:
        with case(url):
            headers = {"Idempotency-Key": f"key for {url}"}
            one = await api.as_(who, "POST", url, json=body, headers=headers)
            assert one.status_code in (200, 201), one.text
            assert "idempotent-replayed" not in one.headers
            counted = len(await all_events(api, type=event))
            two = await api.as_(who, "POST", url, json=body, headers=headers)
            expected = one.json()
            if "key" in expected:  # a secret shown once is not kept for replays
                expected["key"] = "(shown only in the first answer)"
            assert (two.status_code, two.json()) == (one.status_code, expected)
            assert two.headers["idempotent-replayed"] == "true"
            assert two.headers["content-type"] == "application/json"
            assert len(await all_events(api, type=event)) == counted
    # Without the header, the same call is simply made again.
    r = await api.as_("requester", "POST", f"/v1/requests/{first['id']}/cancel")
    assert_problem(r, 409)


async def test_a_replay_keeps_caller_text_that_looks_like_a_secret(api: Api) -> None:
    """Only the secrets shown once are left out of a replay, not text that merely looks alike."""
    headers = {"Idempotency-Key": "look-alike"}
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": "sk_team"}, headers=headers)
    replay = await api.as_("admin", "POST", "/v1/loops", json={"name": "sk_team"}, headers=headers)
    assert replay.json() == r.json()
    body = {
        "content": "sk_live_123 leaked: rotate it",
        "title": "whsec_abc",
        "requested_by": "sk_x",
    }
    url = f"/v1/loops/{r.json()['id']}/requests"
    one = await api.as_("requester", "POST", url, json=body, headers=headers)
    two = await api.as_("requester", "POST", url, json=body, headers=headers)
    assert two.headers["idempotent-replayed"] == "true"
    assert two.json() == one.json()
    assert two.json()["content"] == "sk_live_123 leaked: rotate it"


async def test_an_idempotency_key_is_bound_to_its_body_path_and_caller(api: Api) -> None:
    loop = await new_loop(api)
    url = f"/v1/loops/{loop['id']}/requests"
    key = {"Idempotency-Key": "abc-123"}
    one = await api.as_("requester", "POST", url, json={"content": "x"}, headers=key)
    assert one.status_code == 201
    before = await snapshot(api)
    for body, path in (
        ({"content": "y"}, url),
        ({"content": "x", "priority": "low"}, url),
        ({"content": "x"}, f"{url}/batch"),
    ):
        with case((body, path)):
            r = await api.as_("requester", "POST", path, json=body, headers=key)
            body_ = assert_problem(r, 422, fields={"header.Idempotency-Key"})
            assert "another request body" in body_["detail"]
    assert await snapshot(api) == before
    # Another API key with the same Idempotency-Key is another call altogether.
    other = await api.as_("admin", "POST", url, json={"content": "x"}, headers=key)
    assert other.status_code == 201
    assert "idempotent-replayed" not in other.headers
    assert other.json()["id"] != one.json()["id"]
    assert len(await all_pages(api, "/v1/requests")) == 2
    for bad in ("", "k" * 256):
        with case(len(bad)):
            r = await api.as_(
                "requester", "POST", url, json={"content": "x"}, headers={"Idempotency-Key": bad}
            )
            assert_problem(r, 422, fields={"header.Idempotency-Key"})
    assert (
        await api.as_(
            "requester", "POST", url, json={"content": "z"}, headers={"Idempotency-Key": "k" * 255}
        )
    ).status_code == 201
    # Unauthenticated calls are refused before the key is looked at.
    r = await api.client.post(url, json={"content": "x"}, headers=key)
    assert_problem(r, 401)


async def test_a_refused_call_does_not_use_up_its_idempotency_key(api: Api) -> None:
    loop = await new_loop(api)
    url = f"/v1/loops/{loop['id']}/requests"
    key = {"Idempotency-Key": "retry-me"}
    for _ in range(2):
        r = await api.as_(
            "requester", "POST", url, json={"content": "x", "priority": "asap"}, headers=key
        )
        assert_problem(r, 422, fields={"body.priority"})
        assert "idempotent-replayed" not in r.headers
    r = await api.as_("requester", "POST", url, json={"content": "x"}, headers=key)
    assert r.status_code == 201
    assert "idempotent-replayed" not in r.headers


async def test_concurrent_calls_with_one_idempotency_key_create_one_request(api: Api) -> None:
    loop = await new_loop(api)
    url = f"/v1/loops/{loop['id']}/requests"
    calls = [
        api.as_(
            "requester", "POST", url, json={"content": "x"}, headers={"Idempotency-Key": "race"}
        )
        for _ in range(8)
    ]
    answers = await asyncio.gather(*calls)
    assert {r.status_code for r in answers} <= {201, 409}
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(created) == 1
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409)
    assert [x["id"] for x in await all_pages(api, "/v1/requests")] == list(created)
