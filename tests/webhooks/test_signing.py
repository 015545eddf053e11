"""Signatures: `signoff.webhooks.verify` against the reference library, and secret rotation."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import standardwebhooks

from signoff.service.context import system_clock
from signoff.webhook_signing import new_secret, sign
from signoff.webhooks import WebhookVerificationError, verify
from tests.conftest import Api

from .support import Receiver, make_endpoint, send_test

BODY = b'{"type":"webhook.test","timestamp":"2030-01-01T00:00:00.000000Z","data":{"a":"\xc3\xa9"}}'


def _signed(secret: str, body: bytes = BODY, stamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, "msg_1", stamp, body),
    }


def test_verify_answers_the_parsed_body_of_a_good_message() -> None:
    secret = new_secret()
    headers = _signed(secret)
    assert verify(secret, headers, BODY) == {
        "type": "webhook.test",
        "timestamp": "2030-01-01T00:00:00.000000Z",
        "data": {"a": "é"},
    }
    assert verify(secret, headers, BODY.decode()) == verify(secret, headers, BODY)
    shouting = {k.upper(): v for k, v in headers.items()}
    assert verify(secret, shouting, BODY)["type"] == "webhook.test"


def test_signatures_agree_with_the_reference_library() -> None:
    secret = new_secret()
    reference = standardwebhooks.Webhook(secret)
    ours = _signed(secret)
    assert reference.verify(BODY, ours)["data"] == {"a": "é"}
    stamp = system_clock().replace(microsecond=0)
    theirs = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": reference.sign("msg_2", stamp, BODY.decode()),
    }
    assert verify(secret, theirs, BODY)["type"] == "webhook.test"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"secret": new_secret()}, "no signature matches the secret"),
        ({"body": BODY.replace(b"\xc3\xa9", b"e")}, "no signature matches the secret"),
        ({"stamp": int(time.time()) - 3600}, "tolerance 300 s"),
        ({"stamp": int(time.time()) + 3600}, "tolerance 300 s"),
        ({"drop": "webhook-signature"}, "missing header webhook-signature"),
        ({"drop": "webhook-id"}, "missing header webhook-id"),
        ({"drop": "webhook-timestamp"}, "missing header webhook-timestamp"),
        ({"header": ("webhook-timestamp", "soon")}, "webhook-timestamp is not a whole number"),
        ({"header": ("webhook-signature", "v2,abc")}, "no signature matches the secret"),
        ({"header": ("webhook-id", "msg_other")}, "no signature matches the secret"),
        ({"secret": "whsec_not-base64!"}, "not a whsec_ secret"),
    ],
)
def test_verify_refuses_what_the_secret_holder_did_not_send(
    change: dict[str, Any], message: str
) -> None:
    secret = new_secret()
    body = change.get("body", BODY)
    headers = _signed(secret, BODY, change.get("stamp"))
    headers.pop(change.get("drop", ""), None)
    if "header" in change:
        name, value = change["header"]
        headers[name] = value
    with pytest.raises(WebhookVerificationError, match=message):
        verify(change.get("secret", secret), headers, body)


def test_an_old_message_passes_with_a_wider_tolerance_or_an_injected_now() -> None:
    secret = new_secret()
    old = int(time.time()) - 3600
    headers = _signed(secret, stamp=old)
    assert verify(secret, headers, BODY, tolerance=7200)["type"] == "webhook.test"
    assert verify(secret, headers, BODY, now=old + 10)["type"] == "webhook.test"


def test_a_body_that_is_not_json_is_refused_after_the_signature() -> None:
    secret = new_secret()
    with pytest.raises(WebhookVerificationError, match="not JSON"):
        verify(secret, _signed(secret, b"<xml/>"), b"<xml/>")


async def test_rotation_signs_with_both_secrets_during_the_grace_period_only(
    api: Api, receiver: Receiver
) -> None:
    endpoint = await make_endpoint(api, receiver.url(), events=["webhook.test"])
    old = endpoint["secret"]
    r = await api.as_(
        "admin", "POST", f"/v1/webhooks/{endpoint['id']}/rotate-secret", json={"grace_seconds": 1}
    )
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != old
    until_ = datetime.fromisoformat(r.json()["previous_secret_valid_until"])
    assert "secret" not in (await api.as_("admin", "GET", f"/v1/webhooks/{endpoint['id']}")).json()

    await send_test(api, endpoint["id"])
    [during] = await receiver.wait_for(1)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert standardwebhooks.Webhook(secret).verify(during.body, during.headers)
        assert verify(secret, during.headers, during.body)["type"] == "webhook.test"

    # Two seconds on, the grace period is over.
    api.ctx.clock = lambda: system_clock() + timedelta(seconds=2)
    assert api.ctx.clock() > until_
    await send_test(api, endpoint["id"])
    [_, after] = await receiver.wait_for(2)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(new, after.headers, after.body)["type"] == "webhook.test"
    assert standardwebhooks.Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify(old, after.headers, after.body)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(old).verify(after.body, after.headers)

    # Rotating with no grace at all: only the newest secret signs, at once.
    r = await api.as_(
        "admin", "POST", f"/v1/webhooks/{endpoint['id']}/rotate-secret", json={"grace_seconds": 0}
    )
    newest = r.json()["secret"]
    await send_test(api, endpoint["id"])
    *_, last = await receiver.wait_for(3)
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    assert verify(newest, last.headers, last.body)["type"] == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        verify(new, last.headers, last.body)
