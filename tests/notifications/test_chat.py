"""Chat notifications: a Slack-compatible post to a person's incoming-webhook URL (a real HTTP
receiver on loopback), on escalation; and the URL is checked like any outgoing URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.app import build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM, UserRole
from signoff.errors import ValidationFailed
from signoff.service.users import create_user, update_user
from tests.conftest import Api
from tests.scheduler.conftest import ask, new_loop
from tests.webhooks.support import Receiver


async def test_an_escalation_posts_to_the_added_reviewers_chat(
    api: Api, receiver: Receiver
) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    r = await api.as_(
        "admin",
        "PATCH",
        f"/v1/users/{bob}",
        json={"notify": {"channel": "chat", "url": receiver.url("/chat/bob")}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["notify"] == {"channel": "chat", "url": receiver.url("/chat/bob")}
    loop = await new_loop(
        api,
        reviewers=[ann],
        default_timeout_seconds=60,
        escalation=[{"after_seconds": 1, "add_reviewers": [bob]}],
    )
    request = await ask(api, loop["id"], title="Refund 1182")

    [post] = await receiver.wait_for(1)
    assert (post.method, post.path) == ("POST", "/chat/bob")
    assert post.headers["content-type"] == "application/json"
    assert "webhook-signature" not in post.headers  # a chat post, not a signed webhook
    link = f"http://testserver/requests/{request['id']}"
    body = post.json
    assert body["text"] == f"Escalated to you: Refund 1182\n{link}"
    [section, actions] = body["blocks"]
    assert "Escalated to you: Refund 1182" in section["text"]["text"]
    assert actions["elements"][0]["url"] == link
    opened = await api.as_("bob", "GET", f"/v1/requests/{request['id']}")
    assert opened.status_code == 200  # the escalation made him a reviewer of it


async def test_an_assignment_posts_to_whoever_acts_the_delegate_while_the_assignee_is_away(
    api: Api, receiver: Receiver
) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    for who in (ann, bob):
        r = await api.as_(
            "admin",
            "PATCH",
            f"/v1/users/{who}",
            json={"notify": {"channel": "chat", "url": receiver.url(f"/chat/{who}")}},
        )
        assert r.status_code == 200, r.text
    loop = await new_loop(api, reviewers=[ann], assignment="round_robin")
    first = await ask(api, loop["id"], title="Refund 1182")
    [post] = await receiver.wait_for(1)
    assert post.path == f"/chat/{ann}"
    assert post.json["text"].startswith("Assigned to you: Refund 1182")
    assert first["id"] in post.json["text"]

    r = await api.as_("admin", "PUT", f"/v1/users/{ann}/away", json={"delegate_id": bob})
    assert r.status_code == 200, r.text
    second = await ask(api, loop["id"], title="Refund 1183")
    posts = await receiver.wait_for(2)
    assert posts[1].path == f"/chat/{bob}"  # ann is away: her delegate is told, not her
    assert second["id"] in posts[1].json["text"]


async def test_chat_urls_are_checked_against_private_addresses(db_url: str, tmp_path: Path) -> None:
    ctx = build_context(Settings(data_dir=tmp_path, database_url=db_url), "http://x")
    try:
        user = await create_user(ctx, SYSTEM, "dan@example.com", "Dan", UserRole.reviewer, None)
        with pytest.raises(ValidationFailed) as refused:
            await update_user(
                ctx,
                SYSTEM,
                user.id,
                {"notify": {"channel": "chat", "url": "http://127.0.0.1:9/hook"}},
            )
        assert [e.field for e in refused.value.errors] == ["body.notify.url"]
        with pytest.raises(ValidationFailed) as missing:
            await update_user(ctx, SYSTEM, user.id, {"notify": {"channel": "chat"}})
        assert [e.field for e in missing.value.errors] == ["body.notify.url"]
    finally:
        await ctx.db.dispose()
