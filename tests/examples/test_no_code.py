"""examples/no_code: the files the Zapier / n8n / Make recipe tells people to paste, sent as
they are to a real server; the answers and the delivered webhook have the shape of the sample
files the recipe maps fields from; both signature snippets accept the real delivery and refuse
a forged one."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import standardwebhooks

from signoff.client import Client, Loop
from signoff.webhook_signing import new_secret, sign
from tests.client.support import Receiver, until

from .conftest import Live
from .support import EXAMPLES, WAIT

FILES = EXAMPLES / "no_code"


def sample(name: str) -> Any:
    return json.loads((FILES / name).read_text())


def keys(value: Any) -> Any:
    """The shape a platform maps fields from: the keys at every level, not the values."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(v) for v in value[:1]]
    return None


def zapier_python(fields: dict[str, str]) -> dict[str, Any]:
    """verify_signature.py as "Code by Zapier" runs it: `input_data` in, `output` out."""
    scope: dict[str, Any] = {"input_data": fields}
    exec(compile((FILES / "verify_signature.py").read_text(), "verify_signature.py", "exec"), scope)
    output: dict[str, Any] = scope["output"]
    return output


def node_js(secret: str, headers: dict[str, str], body: bytes) -> subprocess.CompletedProcess[str]:
    script = (
        f"const {{ verifySignoff }} = require({json.dumps(str(FILES / 'verify_signature.js'))});"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const body = Buffer.from(input.body, 'base64');"
        "console.log(JSON.stringify(verifySignoff(input.secret, input.headers, body)));"
    )
    given = {"secret": secret, "headers": headers, "body": base64.b64encode(body).decode()}
    node = shutil.which("node")
    assert node, "Node.js runs verify_signature.js"
    return subprocess.run(
        [node, "-e", script], input=json.dumps(given), capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def test_the_recipe_files_work_against_a_real_server(
    live: Live, admin: Client, reviewer: Client, loop: Loop, receiver: Receiver
) -> None:
    headers = {"Authorization": f"Bearer {live.requester_key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=live.url, headers=headers, trust_env=False) as http:
        # 1. Subscribe: create_webhook.json, the platform's catching URL put in `url`.
        subscription = {**sample("create_webhook.json"), "url": receiver.url, "loop_id": loop.id}
        created = http.post("/v1/webhooks", json=subscription)
        assert created.status_code == 201, created.text
        assert keys(created.json()) == keys(sample("create_webhook.response.json"))
        secret = created.json()["secret"]

        # 2. Create: create_request.json byte for byte, with the Idempotency-Key of the recipe.
        body = (FILES / "create_request.json").read_bytes()
        asked = http.post(
            f"/v1/loops/{loop.id}/requests", content=body, headers={"Idempotency-Key": "T-1042"}
        )
        assert asked.status_code == 201, asked.text
        assert keys(asked.json()) == keys(sample("create_request.response.json"))
        request_id = asked.json()["id"]
        retried = http.post(
            f"/v1/loops/{loop.id}/requests", content=body, headers={"Idempotency-Key": "T-1042"}
        )
        assert retried.json()["id"] == request_id  # a platform's retry makes no second request
        assert [r.id for r in admin.list_requests(loop_id=loop.id).data] == [request_id]

        # A reviewer decides.
        reviewer.decide(request_id, "approve", feedback="OK, refund in full.")

        # 3. Hear: the catching URL gets request.completed, with the fields the recipe routes on.
        [(got_headers, got_body)] = until(lambda: receiver.received, "the webhook", WAIT)
        event = json.loads(got_body)
        assert keys(event) == keys(sample("request_completed.json"))
        assert event["type"] == "request.completed"
        data = event["data"]
        assert data["request_id"] == request_id
        assert (data["status"], data["decision"], data["feedback"]) == (
            "completed",
            "approved",
            "OK, refund in full.",
        )
        assert data["metadata"] == json.loads(body)["metadata"]
        assert data["metadata"]["route"] == "refunds"

        # Way 2: ask Signoff back, with the request id from the delivery.
        answer = http.get(f"/v1/requests/{data['request_id']}/response")
        assert answer.status_code == 200
        assert keys(answer.json()) == keys(sample("decision.json"))
        assert answer.json()["decision"] == "approved"

    # Way 1: the signature snippets accept the real delivery…
    standardwebhooks.Webhook(secret).verify(got_body, got_headers)
    fields = {
        "secret": secret,
        "webhook_id": got_headers["webhook-id"],
        "webhook_timestamp": got_headers["webhook-timestamp"],
        "webhook_signature": got_headers["webhook-signature"],
        "body": got_body.decode(),
    }
    assert zapier_python(fields) == {
        "type": "request.completed",
        "request_id": request_id,
        "decision": "approved",
        "feedback": "OK, refund in full.",
        "content": json.loads(body)["content"],
        "ticket_id": "T-1042",
        "route": "refunds",
    }
    ran = node_js(secret, got_headers, got_body)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == event

    # …and refuse a forged one: another decision under the same headers.
    forged = got_body.replace(b'"decision":"approved"', b'"decision":"rejected"')
    assert forged != got_body
    with pytest.raises(Exception, match="not signed with the Signoff secret"):
        zapier_python({**fields, "body": forged.decode()})
    ran = node_js(secret, got_headers, forged)
    assert ran.returncode != 0
    assert "not signed with the Signoff secret" in ran.stderr


def test_the_snippets_refuse_an_old_but_well_signed_delivery() -> None:
    secret = new_secret()
    body = json.dumps(sample("request_completed.json")).encode()
    old = 1_700_000_000  # long ago
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(old),
        "webhook-signature": sign(secret, "msg_1", old, body),
    }
    fields = {
        "secret": secret,
        "webhook_id": "msg_1",
        "webhook_timestamp": str(old),
        "webhook_signature": headers["webhook-signature"],
        "body": body.decode(),
    }
    with pytest.raises(Exception, match="too far from now"):
        zapier_python(fields)
    ran = node_js(secret, headers, body)
    assert ran.returncode != 0
    assert "too far from now" in ran.stderr


def test_the_recipe_names_only_files_that_exist() -> None:
    recipe = (FILES / "README.md").read_text()
    linked = set(re.findall(r"\]\(([\w.]+)\)", recipe))
    assert linked == {p.name for p in FILES.iterdir() if p.name != "README.md"}
    assert all((FILES / name).exists() for name in linked)
