"""Outgoing URLs into the server's own network: refused when saved, and again when sent."""

from __future__ import annotations

import pytest

from signoff.app import Runtime, build_context
from signoff.config import Settings
from signoff.domain.model import Message
from signoff.store import outbox
from tests.conftest import Api

from .support import Receiver, make_endpoint, make_loop, make_request, message, send_test, until

INSIDE = [
    "http://127.0.0.1/hook",
    "http://localhost/hook",
    "http://10.0.0.1/hook",
    "http://192.168.1.20:8080/hook",
    "http://172.16.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fd00::1]/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://127.1/hook",
    "https://127.0.0.1:8443/hook",
]
OUTSIDE = "http://8.8.8.8/hook"  # a public address: saved without a DNS lookup, never sent to


@pytest.mark.webhook_settings(allow_private_urls=False)
async def test_private_urls_are_refused_when_saved(api: Api) -> None:
    loop_id = await make_loop(api, [])
    kept = await make_endpoint(api, OUTSIDE, enabled=False)
    for url in INSIDE:
        r = await api.as_("admin", "POST", "/v1/webhooks", json={"url": url})
        assert r.status_code == 422, (url, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        [error] = r.json()["errors"]
        assert error["field"] == "body.url", (url, error)
        assert "SIGNOFF_ALLOW_PRIVATE_URLS" in error["message"]

        r = await api.as_("admin", "PATCH", f"/v1/webhooks/{kept['id']}", json={"url": url})
        assert r.status_code == 422, (url, r.text)
        assert r.json()["errors"][0]["field"] == "body.url"

        r = await api.as_(
            "requester",
            "POST",
            f"/v1/loops/{loop_id}/requests",
            json={"content": "x", "callback": {"url": url}},
        )
        assert r.status_code == 422, (url, r.text)
        assert r.json()["errors"][0]["field"] == "body.callback.url"

    batch = {"items": [{"content": "ok"}, {"content": "x", "callback": {"url": INSIDE[0]}}]}
    r = await api.as_("requester", "POST", f"/v1/loops/{loop_id}/requests/batch", json=batch)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "body.items.1.callback.url"

    endpoints = (await api.as_("admin", "GET", "/v1/webhooks")).json()["data"]
    assert [(e["id"], e["url"]) for e in endpoints] == [(kept["id"], OUTSIDE)]
    assert (await api.as_("admin", "GET", "/v1/requests")).json()["data"] == []


@pytest.mark.webhook_settings(allow_private_urls=True, workers=False)
async def test_the_check_is_made_again_when_sending(
    api: Api, receiver: Receiver, settings: Settings
) -> None:
    """Saved while private URLs were allowed, sent by a dispatcher that does not allow them."""
    endpoint = await make_endpoint(api, receiver.url(), events=["webhook.test"])
    await send_test(api, endpoint["id"])
    [queued] = (await api.as_("admin", "GET", f"/v1/webhooks/{endpoint['id']}/deliveries")).json()[
        "data"
    ]
    loop_id = await make_loop(api, [])
    request_id = await make_request(api, loop_id, callback={"url": receiver.url("/cb")})

    async def all_failed() -> list[Message]:
        async with api.ctx.db.read() as conn:
            callback = await outbox.list_messages(conn, request_id=request_id)
            sent = await outbox.get_message(conn, queued["id"])
        assert sent is not None
        done = all(m.status.value == "failed" for m in [*callback, sent])
        return [*callback, sent] if done else []

    strict = settings.model_copy(update={"allow_private_urls": False, "workers": True})
    async with Runtime(build_context(strict, "http://worker"), strict).running():
        failed = await until(all_failed, "the refused messages to fail")
    assert [m.event_type for m in failed] == ["request.created", "webhook.test"]
    assert [m.endpoint_id for m in failed] == [None, endpoint["id"]]
    assert all(m.last_error and m.last_error.startswith("refused: ") for m in failed)

    detail = await message(api, endpoint["id"], queued["id"])
    assert len(detail["attempt_log"]) == 3
    for attempt in detail["attempt_log"]:
        assert attempt["status_code"] is None
        assert attempt["error"].startswith("refused: 127.0.0.1 resolves to 127.0.0.1"), attempt
        assert "loopback" in attempt["error"]
    assert receiver.received == []
