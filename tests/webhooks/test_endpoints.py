"""Managing endpoints: CRUD, who may do what, unknown ids, and what each endpoint hears."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.conftest import Api

from .support import (
    Receiver,
    decide,
    make_endpoint,
    make_loop,
    make_request,
    messages,
    send_test,
)

UNKNOWN = "whk_00000000000000000000000000"
UNKNOWN_MSG = "msg_00000000000000000000000000"


async def test_endpoint_crud(api: Api) -> None:
    loop_id = await make_loop(api, [])
    first = await make_endpoint(
        api, "http://127.0.0.1:9/a", description="billing", events=["request.completed"]
    )
    assert first["id"].startswith("whk_") and first["secret"].startswith("whsec_")
    assert first["enabled"] is True and first["disabled_reason"] is None
    second = await make_endpoint(api, "http://127.0.0.1:9/b", loop_id=loop_id, enabled=False)
    assert second["events"] is None and second["loop_id"] == loop_id
    assert second["secret"] != first["secret"]

    shown = (await api.as_("admin", "GET", f"/v1/webhooks/{first['id']}")).json()
    assert shown == {k: v for k, v in first.items() if k != "secret"}
    page = (await api.as_("admin", "GET", "/v1/webhooks?limit=1")).json()
    assert [e["id"] for e in page["data"]] == [first["id"]] and page["next_cursor"]
    rest = await api.as_("admin", "GET", f"/v1/webhooks?limit=1&cursor={page['next_cursor']}")
    assert [e["id"] for e in rest.json()["data"]] == [second["id"]]
    assert rest.json()["next_cursor"] is None
    assert all("secret" not in e for e in page["data"] + rest.json()["data"])

    r = await api.as_(
        "admin",
        "PATCH",
        f"/v1/webhooks/{first['id']}",
        json={"description": "ledger", "events": ["request.*"], "url": "http://127.0.0.1:9/c"},
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["description"], changed["events"], changed["url"]) == (
        "ledger",
        ["request.*"],
        "http://127.0.0.1:9/c",
    )
    assert changed["updated_at"] > first["updated_at"]
    bads: list[dict[str, Any]] = [
        {"loop_id": "loop_nope"},
        {"events": ["not a pattern"]},
        {"enabled": None},
    ]
    for bad in bads:
        r = await api.as_("admin", "PATCH", f"/v1/webhooks/{first['id']}", json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["errors"][0]["field"].startswith(f"body.{next(iter(bad))}"), r.json()
    r = await api.as_("admin", "POST", "/v1/webhooks", json={"url": "ftp://example.com/x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.url"

    r = await api.as_("admin", "DELETE", f"/v1/webhooks/{first['id']}")
    assert r.status_code == 204
    gone = await api.as_("admin", "GET", f"/v1/webhooks/{first['id']}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    left = (await api.as_("admin", "GET", "/v1/webhooks")).json()["data"]
    assert [e["id"] for e in left] == [second["id"]]
    again = await api.as_("admin", "DELETE", f"/v1/webhooks/{first['id']}")
    assert again.status_code == 404

    kinds = await api.as_("admin", "GET", "/v1/events?type=webhook.created&type=webhook.deleted")
    assert [e["type"] for e in kinds.json()["data"]] == [
        "webhook.created",
        "webhook.created",
        "webhook.deleted",
    ]
    assert all("secret" not in str(e["data"]) for e in kinds.json()["data"])


def _calls(endpoint_id: str, message_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"/v1/webhooks/{endpoint_id}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"description": "x"}),
        ("POST", f"{base}/test", None),
        ("POST", f"{base}/rotate-secret", {"grace_seconds": 10}),
        ("GET", f"{base}/deliveries", None),
        ("GET", f"{base}/deliveries/{message_id}", None),
        ("POST", f"{base}/deliveries/{message_id}/retry", None),
        ("POST", f"{base}/recover", {"since": "2020-01-01T00:00:00Z"}),
        ("DELETE", base, None),
    ]


async def test_reviewers_get_403_and_unknown_ids_404(api: Api, receiver: Receiver) -> None:
    await api.add_reviewer("ann")
    endpoint = await make_endpoint(api, "http://127.0.0.1:9/a", enabled=False)
    calls = [
        ("POST", "/v1/webhooks", {"url": "http://127.0.0.1:9/b"}),
        ("GET", "/v1/webhooks", None),
        ("GET", "/v1/webhooks/callback-secret", None),
        *_calls(endpoint["id"], UNKNOWN_MSG),
    ]
    for method, url, body in calls:
        r = await api.as_("ann", method, url, json=body)
        assert r.status_code == 403, (method, url, r.status_code)
        assert r.headers["content-type"] == "application/problem+json"
    r = await api.client.get("/v1/webhooks")
    assert r.status_code == 401
    assert (await api.as_("admin", "GET", f"/v1/webhooks/{endpoint['id']}")).status_code == 200

    for method, url, body in _calls(UNKNOWN, UNKNOWN_MSG):
        r = await api.as_("admin", method, url, json=body)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 404 and UNKNOWN in r.json()["detail"]
    mine = await make_endpoint(api, receiver.url("/mine"), events=["webhook.test"])
    other = await make_endpoint(api, receiver.url("/other"), events=["webhook.test"])
    await send_test(api, other["id"])
    [theirs] = await receiver.wait_for(1)
    for method, url in [
        ("GET", f"/v1/webhooks/{mine['id']}/deliveries/{UNKNOWN_MSG}"),
        ("POST", f"/v1/webhooks/{mine['id']}/deliveries/{UNKNOWN_MSG}/retry"),
        ("GET", f"/v1/webhooks/{mine['id']}/deliveries/{theirs.id}"),
        ("POST", f"/v1/webhooks/{mine['id']}/deliveries/{theirs.id}/retry"),
    ]:
        r = await api.as_("admin", method, url)
        assert r.status_code == 404, (method, url, r.text)
        assert r.headers["content-type"] == "application/problem+json"


async def test_each_endpoint_hears_what_it_subscribed_to(api: Api, receiver: Receiver) -> None:
    ann = await api.add_reviewer("ann")
    north, south = await make_loop(api, [ann], "north"), await make_loop(api, [ann], "south")
    done = await make_endpoint(api, receiver.url("/done"), events=["request.completed"])
    requests = await make_endpoint(api, receiver.url("/requests"), events=["request.*"])
    north_only = await make_endpoint(api, receiver.url("/north"), loop_id=north)
    workflow = await make_endpoint(api, receiver.url("/workflow"), who="requester")
    assert workflow["events"] == ["request.*", "webhook.test"]
    for loop_id in (north, south):
        await decide(api, "ann", await make_request(api, loop_id))
    await send_test(api, done["id"])

    lifecycle = ["request.completed", "request.created", "request.vote"]
    expected = {
        done["id"]: ["request.completed", "request.completed", "webhook.test"],
        requests["id"]: sorted(lifecycle * 2),
        north_only["id"]: lifecycle,
        workflow["id"]: sorted(lifecycle * 2),
    }
    made = {e: sorted(m["event_type"] for m in await messages(api, e)) for e in expected}
    assert made == expected
    north_messages = await messages(api, north_only["id"])
    payloads = [(await _payload(api, north_only["id"], m["id"])) for m in north_messages]
    assert {p["data"]["loop_id"] for p in payloads} == {north}
    total = sum(len(v) for v in expected.values())
    await receiver.wait_for(total)
    paths = Counter(r.path for r in receiver.received)
    assert paths == {"/done": 3, "/requests": 6, "/north": 3, "/workflow": 6}
    assert [r.type for r in receiver.received if r.type == "webhook.test"] == ["webhook.test"]


async def _payload(api: Api, endpoint_id: str, message_id: str) -> dict[str, Any]:
    r = await api.as_("admin", "GET", f"/v1/webhooks/{endpoint_id}/deliveries/{message_id}")
    found: dict[str, Any] = r.json()["payload"]
    return found


async def test_a_requester_manages_request_endpoints_only(api: Api, receiver: Receiver) -> None:
    for events in (["loop.created"], ["*"], ["request.*", "user.created"], ["api_key.*"]):
        r = await api.as_(
            "requester",
            "POST",
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/", "events": events},
        )
        assert r.status_code == 403, (events, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    own = await make_endpoint(api, "http://127.0.0.1:9/", who="requester", events=["request.*"])
    r = await api.as_(
        "requester", "PATCH", f"/v1/webhooks/{own['id']}", json={"events": ["user.*"]}
    )
    assert r.status_code == 403, r.text
    r = await api.as_(
        "requester", "PATCH", f"/v1/webhooks/{own['id']}", json={"events": ["request.completed"]}
    )
    assert r.status_code == 200 and r.json()["events"] == ["request.completed"]
    r = await api.as_("admin", "PATCH", f"/v1/webhooks/{own['id']}", json={"events": None})
    assert r.status_code == 200 and r.json()["events"] is None

    # Nor may it point an admin's endpoint that hears everything at itself, learn its secret
    # or read its delivery log.
    admins = await make_endpoint(api, receiver.url("/admin"))
    await send_test(api, admins["id"])
    [sent] = await receiver.wait_for(1, lambda r: r.type == "webhook.test")
    base = f"/v1/webhooks/{admins['id']}"
    for method, url, body in [
        ("PATCH", base, {"url": "http://127.0.0.1:9/mine"}),
        ("PATCH", base, {"events": ["request.*"]}),
        ("POST", f"{base}/rotate-secret", {"grace_seconds": 0}),
        ("GET", f"{base}/deliveries", None),
        ("GET", f"{base}/deliveries/{sent.id}", None),
        ("POST", f"{base}/deliveries/{sent.id}/retry", None),
        ("POST", f"{base}/recover", {"since": "2020-01-01T00:00:00Z"}),
        ("POST", f"{base}/test", None),
        ("DELETE", base, None),
    ]:
        r = await api.as_("requester", method, url, json=body)
        assert r.status_code == 403, (method, url, r.status_code, r.text)
    shown = await api.as_("admin", "GET", base)
    assert shown.json()["url"] == admins["url"] and shown.json()["events"] is None


async def test_a_requester_key_sees_only_its_own_endpoints(api: Api) -> None:
    from signoff.domain.model import SYSTEM, Role
    from signoff.service.users import create_key

    api.keys["other"] = (await create_key(api.ctx, SYSTEM, "other", Role.requester, None)).secret
    mine = await make_endpoint(api, "http://127.0.0.1:9/mine", who="requester")
    theirs = await make_endpoint(api, "http://127.0.0.1:9/theirs", who="other")
    listed = await api.as_("requester", "GET", "/v1/webhooks")
    assert [e["id"] for e in listed.json()["data"]] == [mine["id"]]
    everything = await api.as_("admin", "GET", "/v1/webhooks")
    assert {e["id"] for e in everything.json()["data"]} == {mine["id"], theirs["id"]}
    base = f"/v1/webhooks/{theirs['id']}"
    for method, url, body in [
        ("GET", base, None),
        ("PATCH", base, {"url": "http://127.0.0.1:9/stolen"}),
        ("POST", f"{base}/rotate-secret", None),
        ("GET", f"{base}/deliveries", None),
        ("DELETE", base, None),
    ]:
        r = await api.as_("requester", method, url, json=body)
        assert r.status_code == 403, (method, url, r.text)
    shown = await api.as_("other", "GET", base)
    assert shown.status_code == 200 and shown.json()["url"] == "http://127.0.0.1:9/theirs"


async def test_an_event_name_that_matches_nothing_is_refused(api: Api) -> None:
    for events in (["request.approved"], ["requests.*"], ["nothing"]):
        r = await api.as_(
            "admin", "POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/", "events": events}
        )
        assert r.status_code == 422, (events, r.text)
        assert r.json()["errors"][0]["field"] == "body.events"
    ok = await make_endpoint(api, "http://127.0.0.1:9/", events=["request.*", "loop.created"])
    assert ok["events"] == ["request.*", "loop.created"]
