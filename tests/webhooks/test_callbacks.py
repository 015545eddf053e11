"""A request's own `callback`: authenticated, signed with the callback secret, never echoed."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
import standardwebhooks

from signoff.store import outbox
from signoff.store.tables import metadata
from signoff.webhooks import verify
from tests.conftest import Api

from .support import Receiver, at, decide, make_endpoint, make_loop, make_request, messages, settled

TOKEN = "tok-s3cret-0e1f2a"
PASSWORD = "pw-s3cret-7b8c9d"
BASIC = base64.b64encode(f"robot:{PASSWORD}".encode()).decode()


AUTH = {
    "/bearer": ({"strategy": "bearer", "token": TOKEN}, f"Bearer {TOKEN}"),
    "/basic": (
        {"strategy": "basic", "username": "robot", "password": PASSWORD},
        f"Basic {BASIC}",
    ),
}


async def test_callbacks_get_their_credentials_and_nobody_sees_them(
    api: Api, receiver: Receiver
) -> None:
    ann = await api.add_reviewer("ann")
    loop_id = await make_loop(api, [ann])
    everything = await make_endpoint(api, receiver.url("/all"))
    made: dict[str, str] = {}
    for path, (auth, _) in AUTH.items():
        callback = {"url": receiver.url(path), "auth": auth}
        r = await api.as_(
            "requester",
            "POST",
            f"/v1/loops/{loop_id}/requests",
            json={"content": "Refund $120", "callback": callback, "metadata": {"ticket": 3}},
            headers={"Idempotency-Key": path},  # the stored answer must not hold them either
        )
        assert r.status_code == 201, r.text
        made[path] = r.json()["id"]
        assert r.json()["callback"] == {
            "url": callback["url"],
            "events": None,
            "auth": {"strategy": auth["strategy"]},
        }
        await decide(api, "ann", made[path], feedback="fine")

    r = await api.as_("requester", "GET", "/v1/webhooks/callback-secret")
    assert r.status_code == 200, r.text
    callback_secret = r.json()["secret"]
    assert callback_secret.startswith("whsec_")
    for path, (_, header) in AUTH.items():
        got = await receiver.wait_for(3, at(path))
        assert sorted(r.type for r in got) == [
            "request.completed",
            "request.created",
            "request.vote",
        ]
        for received in got:
            assert received.headers["authorization"] == header
            assert standardwebhooks.Webhook(callback_secret).verify(received.body, received.headers)
            data = verify(callback_secret, received.headers, received.body)["data"]
            assert data["request_id"] == made[path] and data["metadata"] == {"ticket": 3}
        completed = next(r for r in got if r.type == "request.completed")
        assert completed.json["data"]["decision"] == "approved"
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(everything["secret"]).verify(got[0].body, got[0].headers)

    # The endpoint's own deliveries carry no credentials of the callbacks'.
    logged = await messages(api, everything["id"])
    assert len(logged) == 7  # webhook.created, and three events of each request
    answers = [str(await settled(api, everything["id"], m["id"], "delivered")) for m in logged]
    at_all = await receiver.wait_for(7, lambda r: r.path == "/all")
    assert all("authorization" not in r.headers for r in at_all)
    for who, url in [
        *(("requester", f"/v1/requests/{i}") for i in made.values()),
        *(("ann", f"/v1/requests/{i}") for i in made.values()),
        *(("requester", f"/v1/requests/{i}/events") for i in made.values()),
        ("requester", "/v1/requests"),
        ("requester", "/v1/events"),
        ("admin", "/v1/events?limit=500"),
        ("admin", f"/v1/webhooks/{everything['id']}/deliveries"),
    ]:
        r = await api.as_(who, "GET", url)
        assert r.status_code == 200, (url, r.text)
        answers.append(r.text)
    for secret in (TOKEN, PASSWORD, BASIC):
        assert not any(secret in text for text in answers)
        assert not any(secret in r.body.decode() for r in receiver.received)
        assert await _stored_outside_callback_auth(api, secret) == []


async def _stored_outside_callback_auth(api: Api, secret: str) -> list[str]:
    """Every table.column that holds `secret`, but for requests.callback_auth."""
    found = []
    async with api.ctx.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.execute(sa.select(table)):
                for column, value in row._mapping.items():
                    where = f"{table.name}.{column}"
                    if secret in str(value) and where != "requests.callback_auth":
                        found.append(where)
    return found


async def test_a_callback_hears_only_the_events_it_names_or_matches(
    api: Api, receiver: Receiver
) -> None:
    ann = await api.add_reviewer("ann")
    loop_id = await make_loop(api, [ann])
    only_done = {"url": receiver.url("/done"), "events": ["request.completed"]}
    first = await make_request(api, loop_id, callback=only_done)
    await decide(api, "ann", first)
    everything = {"url": receiver.url("/every")}
    second = await make_request(api, loop_id, callback=everything)
    await decide(api, "ann", second, decision="reject", feedback="no")

    patterned = {"url": receiver.url("/pattern"), "events": ["request.*"]}
    third = await make_request(api, loop_id, callback=patterned)
    await decide(api, "ann", third)

    pattern = await receiver.wait_for(3, at("/pattern"))
    assert sorted(r.type for r in pattern) == [
        "request.completed",
        "request.created",
        "request.vote",
    ]
    [done] = await receiver.wait_for(1, lambda r: r.path == "/done")
    assert done.type == "request.completed" and done.json["data"]["request_id"] == first
    every = await receiver.wait_for(3, lambda r: r.path == "/every")
    assert {r.json["data"]["request_id"] for r in every} == {second}
    rejected = next(r.json["data"] for r in every if r.type == "request.completed")
    assert rejected["decision"] == "rejected" and rejected["feedback"] == "no"
    assert all("authorization" not in r.headers for r in receiver.received)
    async with api.ctx.db.read() as conn:
        made = await outbox.list_messages(conn, request_id=first)
    assert [m.event_type for m in made] == ["request.completed"]
