"""Deliveries to a real receiver: success, retries, timeouts, 410, outages, disabling, deleting."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import standardwebhooks

from signoff.store import outbox
from signoff.webhooks import verify
from tests.conftest import Api

from .support import (
    Receiver,
    Reply,
    closed_port,
    decide,
    make_endpoint,
    make_loop,
    make_request,
    message,
    messages,
    only_message,
    send_test,
    settled,
    until,
)

REQUEST_FIELDS = {
    "request_id",
    "loop_id",
    "status",
    "decision",
    "feedback",
    "content",
    "edited",
    "response_data",
    "metadata",
    "decided_by",
}


async def _endpoint(api: Api, endpoint_id: str) -> dict[str, Any]:
    r = await api.as_("admin", "GET", f"/v1/webhooks/{endpoint_id}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def test_a_decision_reaches_the_endpoint_signed(api: Api, receiver: Receiver) -> None:
    ann = await api.add_reviewer("ann")
    loop_id = await make_loop(api, [ann])
    endpoint = await make_endpoint(api, receiver.url(), events=["request.*"])
    request_id = await make_request(api, loop_id, metadata={"ticket": 7})
    await decide(api, "ann", request_id, edited_content="Refund $100", feedback="less")

    got = {r.type: r for r in await receiver.wait_for(3)}
    assert sorted(got) == ["request.completed", "request.created", "request.vote"]
    for received in got.values():
        assert received.method == "POST" and received.path == "/hook"
        assert received.headers["content-type"] == "application/json"
        assert received.id.startswith("msg_")
        assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
        assert received.headers["webhook-signature"].startswith("v1,")
        reference = standardwebhooks.Webhook(endpoint["secret"])
        assert reference.verify(received.body, received.headers) == received.json
        assert verify(endpoint["secret"], received.headers, received.body) == received.json
        body = received.json
        assert set(body) == {"type", "timestamp", "data"}
        assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
        assert REQUEST_FIELDS <= set(body["data"])
        assert body["data"]["request_id"] == request_id
        assert body["data"]["loop_id"] == loop_id
        assert body["data"]["metadata"] == {"ticket": 7}

    assert got["request.created"].json["data"]["status"] == "pending"
    assert got["request.created"].json["data"]["content"] == "Refund $120"
    assert got["request.vote"].json["data"]["status"] == "pending"
    done = got["request.completed"].json["data"]
    assert {k: done[k] for k in REQUEST_FIELDS - {"decided_by"}} == {
        "request_id": request_id,
        "loop_id": loop_id,
        "status": "completed",
        "decision": "approved",
        "feedback": "less",
        "content": "Refund $100",
        "edited": True,
        "response_data": None,
        "metadata": {"ticket": 7},
    }
    assert [who["user_id"] for who in done["decided_by"]] == [ann]

    logged = await messages(api, endpoint["id"])
    assert {m["id"] for m in logged} == {r.id for r in got.values()}
    for m in logged:
        m = await settled(api, endpoint["id"], m["id"], "delivered")
        assert m["attempts"] == 1 and m["last_status_code"] == 200
        assert m["payload"] == got[m["event_type"]].json


async def test_a_500_is_retried_once_with_the_same_webhook_id(api: Api, receiver: Receiver) -> None:
    endpoint = await make_endpoint(api, receiver.url(), events=["webhook.test"])
    receiver.script(Reply(500, b"boom"))
    await send_test(api, endpoint["id"])

    first, second = await receiver.wait_for(2)
    assert first.id == second.id and first.body == second.body
    assert first.type == "webhook.test"
    sent = await settled(api, endpoint["id"], first.id, "delivered")
    assert sent["attempts"] == 2 and sent["last_status_code"] == 200
    log = sent["attempt_log"]
    assert [a["status_code"] for a in log] == [500, 200]
    assert [a["response_excerpt"] for a in log] == ["boom", "ok"]
    assert all(a["latency_ms"] > 0 and a["error"] is None for a in log)
    assert log[0]["attempted_at"] < log[1]["attempted_at"]
    assert len(receiver.received) == 2
    assert (await _endpoint(api, endpoint["id"]))["failing_since"] is None

    # A redirect is not followed (it could lead anywhere, past the SSRF check): it is a failure.
    receiver.script(Reply(307, headers={"location": receiver.url("/elsewhere")}))
    await send_test(api, endpoint["id"])
    *_, moved, retried = await receiver.wait_for(4)
    assert moved.id == retried.id != first.id
    sent = await settled(api, endpoint["id"], moved.id, "delivered")
    assert [a["status_code"] for a in sent["attempt_log"]] == [307, 200]
    assert receiver.at("/elsewhere") == []


@pytest.mark.webhook_settings(webhook_timeout_seconds=0.3)
async def test_a_slow_receiver_times_out_and_is_tried_again(api: Api, receiver: Receiver) -> None:
    endpoint = await make_endpoint(api, receiver.url(), events=["webhook.test"])
    receiver.script(Reply(delay=1.5))
    await send_test(api, endpoint["id"])

    first, second = await receiver.wait_for(2)
    assert first.id == second.id
    sent = await settled(api, endpoint["id"], first.id, "delivered")
    slow, fine = sent["attempt_log"]
    assert slow["status_code"] is None
    assert slow["error"] == "timed out after 0.3 s"
    assert 300 <= slow["latency_ms"] < 1500
    assert fine["status_code"] == 200 and fine["error"] is None


async def test_410_gone_disables_the_endpoint_until_an_admin_enables_it(
    api: Api, receiver: Receiver
) -> None:
    endpoint = await make_endpoint(api, receiver.url(), events=["webhook.test"])
    receiver.script(Reply(410, b"unsubscribed"))
    await send_test(api, endpoint["id"])
    [gone] = await receiver.wait_for(1)
    failed = await settled(api, endpoint["id"], gone.id, "failed")
    assert failed["attempts"] == 1 and failed["last_status_code"] == 410

    disabled = await _endpoint(api, endpoint["id"])
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "the receiver answered 410 Gone"
    events = (await api.as_("admin", "GET", "/v1/events?type=webhook.disabled")).json()["data"]
    assert [e["data"]["id"] for e in events] == [endpoint["id"]]
    # A disabled endpoint gets nothing, and says so when asked to.
    r = await api.as_("admin", "POST", f"/v1/webhooks/{endpoint['id']}/test")
    assert r.status_code == 409, r.text
    assert "disabled" in r.json()["detail"]

    r = await api.as_("admin", "PATCH", f"/v1/webhooks/{endpoint['id']}", json={"enabled": True})
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None
    await send_test(api, endpoint["id"])
    [_, again] = await receiver.wait_for(2)
    assert again.id != gone.id
    await settled(api, endpoint["id"], again.id, "delivered")


async def test_an_outage_fails_the_message_and_recover_sends_it_again(
    api: Api, receiver: Receiver
) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/hook"
    endpoint = await make_endpoint(api, url, events=["webhook.test"])
    await send_test(api, endpoint["id"])
    msg_id = (await only_message(api, endpoint["id"]))["id"]

    failed = await settled(api, endpoint["id"], msg_id, "failed")
    assert failed["attempts"] == 3  # the first try and one per retry in the schedule
    assert failed["last_status_code"] is None and failed["last_error"]
    for attempt in failed["attempt_log"]:
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("ConnectError"), attempt
    assert (await _endpoint(api, endpoint["id"]))["failing_since"] is not None
    listed = await api.as_(
        "admin", "GET", f"/v1/webhooks/{endpoint['id']}/deliveries?status=failed"
    )
    assert [m["id"] for m in listed.json()["data"]] == [msg_id]
    listed = await api.as_(
        "admin", "GET", f"/v1/webhooks/{endpoint['id']}/deliveries?status=pending"
    )
    assert listed.json()["data"] == []

    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    r = await api.as_(
        "admin", "POST", f"/v1/webhooks/{endpoint['id']}/recover", json={"since": later}
    )
    assert r.json() == {"requeued": 0}

    back = await Receiver().start(port)
    try:
        since = endpoint["created_at"]
        r = await api.as_(
            "admin", "POST", f"/v1/webhooks/{endpoint['id']}/recover", json={"since": since}
        )
        assert r.status_code == 202, r.text
        assert r.json() == {"requeued": 1}
        [recovered] = await back.wait_for(1)
        assert recovered.id == msg_id
        sent = await settled(api, endpoint["id"], msg_id, "delivered")
        # A recovered message starts the retry schedule again; the log keeps every attempt.
        assert sent["attempts"] == 1
        detail = await api.as_("admin", "GET", f"/v1/webhooks/{endpoint['id']}/deliveries/{msg_id}")
        assert len(detail.json()["attempt_log"]) == 4
        assert (await _endpoint(api, endpoint["id"]))["failing_since"] is None

        r = await api.as_(
            "admin", "POST", f"/v1/webhooks/{endpoint['id']}/deliveries/{msg_id}/retry"
        )
        assert r.status_code == 202, r.text
        assert r.json()["id"] == msg_id and r.json()["status"] == "pending"
        [_, replayed] = await back.wait_for(2)
        assert replayed.id == msg_id and replayed.body == recovered.body

        async def fifth() -> bool:
            detail = await api.as_(
                "admin", "GET", f"/v1/webhooks/{endpoint['id']}/deliveries/{msg_id}"
            )
            return len(detail.json()["attempt_log"]) == 5

        await until(fifth, "the replay to be recorded")
    finally:
        await back.close()
    assert receiver.received == []


@pytest.mark.webhook_settings(webhook_disable_after_hours=0.0003, webhook_retry_schedule=[0.2] * 50)
async def test_an_endpoint_failing_too_long_is_disabled(api: Api) -> None:
    endpoint = await make_endpoint(
        api, f"http://127.0.0.1:{closed_port()}/hook", events=["webhook.test"]
    )
    await send_test(api, endpoint["id"])

    async def disabled() -> dict[str, Any] | None:
        found = await _endpoint(api, endpoint["id"])
        return None if found["enabled"] else found

    found = await until(disabled, "the endpoint to be disabled")
    assert found["disabled_reason"] == "every delivery failed for 0.0003 hours"
    [msg] = await messages(api, endpoint["id"])
    assert msg["status"] == "failed"
    assert msg["last_error"] == "endpoint disabled: every delivery failed for 0.0003 hours"
    detail = await message(api, endpoint["id"], msg["id"])
    first, last = detail["attempt_log"][0], detail["attempt_log"][-1]
    span = datetime.fromisoformat(last["attempted_at"]) - datetime.fromisoformat(
        first["attempted_at"]
    )
    assert span >= timedelta(hours=0.0003) * 0.9  # the settle time counts, not the attempt's
    events = (await api.as_("admin", "GET", "/v1/events?type=webhook.disabled")).json()["data"]
    assert events[0]["data"]["reason"] == found["disabled_reason"]


async def test_deleting_an_endpoint_stops_its_deliveries(api: Api, receiver: Receiver) -> None:
    endpoint = await make_endpoint(api, receiver.url("/gone"), events=["webhook.test"])
    other = await make_endpoint(api, receiver.url("/other"), events=["webhook.test"])
    receiver.script(Reply(500))
    await send_test(api, endpoint["id"])
    [first] = await receiver.wait_for(1)
    r = await api.as_("admin", "DELETE", f"/v1/webhooks/{endpoint['id']}")
    assert r.status_code == 204

    async with api.ctx.db.read() as conn:
        kept = await outbox.get_message(conn, first.id)
    assert kept is not None and kept.status.value == "failed"
    assert kept.last_error == "endpoint deleted"
    # Longer than the retry would have waited; the other endpoint proves the dispatcher runs.
    await asyncio.sleep(0.5)
    await send_test(api, other["id"])
    await receiver.wait_for(1, lambda r: r.path == "/other")
    assert [r.path for r in receiver.received] == ["/gone", "/other"]


# Retries wait longer than the test runs, however loaded the machine: only the admin moves them.
@pytest.mark.webhook_settings(webhook_retry_schedule=[60.0, 60.0])
async def test_waiting_messages_follow_the_endpoint_as_an_admin_changes_it(
    api: Api, receiver: Receiver
) -> None:
    """A new URL takes the messages still on their way; disabling an endpoint stops them."""
    moved = await make_endpoint(
        api, f"http://127.0.0.1:{closed_port()}/old", events=["webhook.test"]
    )
    paused = await make_endpoint(api, receiver.url("/paused"), events=["webhook.test"])
    receiver.script(Reply(500))
    await send_test(api, paused["id"])
    await send_test(api, moved["id"])
    moving = (await only_message(api, moved["id"]))["id"]
    pausing = (await only_message(api, paused["id"]))["id"]

    async def tried_once() -> bool:
        one = await message(api, moved["id"], moving)
        other = await message(api, paused["id"], pausing)
        return bool(one["attempts"] == 1 and other["attempts"] == 1)

    await until(tried_once, "a first attempt of each")
    r = await api.as_(
        "admin", "PATCH", f"/v1/webhooks/{moved['id']}", json={"url": receiver.url("/new")}
    )
    assert r.status_code == 200, r.text
    r = await api.as_("admin", "POST", f"/v1/webhooks/{moved['id']}/deliveries/{moving}/retry")
    assert r.status_code == 202, r.text
    [arrived] = await receiver.wait_for(1, lambda r: r.path == "/new")
    assert arrived.id == moving
    await settled(api, moved["id"], moving, "delivered")

    r = await api.as_("admin", "PATCH", f"/v1/webhooks/{paused['id']}", json={"enabled": False})
    assert r.status_code == 200, r.text
    stopped = await message(api, paused["id"], pausing)
    assert stopped["status"] == "failed" and "disabled" in stopped["last_error"]
    assert len(receiver.at("/paused")) == 1


async def test_every_request_event_carries_what_a_receiver_routes_on(
    api: Api, receiver: Receiver
) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    r = await api.as_(
        "admin",
        "POST",
        "/v1/loops",
        json={"name": "pairs", "reviewers": [ann, bob], "required_approvals": 2},
    )
    loop_id = r.json()["id"]
    endpoint = await make_endpoint(api, receiver.url(), events=["request.*"])
    request_id = await make_request(api, loop_id, metadata={"customer": "c-9"})
    await decide(api, "ann", request_id)
    r = await api.as_("requester", "PATCH", f"/v1/requests/{request_id}", json={"content": "$90"})
    assert r.status_code == 200, r.text
    r = await api.as_("requester", "POST", f"/v1/requests/{request_id}/cancel", json={})
    assert r.status_code == 200, r.text

    kinds = ["created", "vote", "updated", "votes_voided", "cancelled"]
    made = [m["event_type"] for m in await messages(api, endpoint["id"])]
    assert made == [f"request.{k}" for k in kinds]
    for received in await receiver.wait_for(len(kinds)):
        data = received.json["data"]
        assert REQUEST_FIELDS <= set(data), received.type
        assert (data["request_id"], data["loop_id"]) == (request_id, loop_id), received.type
        assert data["metadata"] == {"customer": "c-9"}, received.type
        expected = "cancelled" if received.type == "request.cancelled" else "pending"
        assert data["status"] == expected, received.type
