"""`signoff demo` on a fresh data folder, then the commands a new user would try next."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher

from signoff.domain.model import Role
from signoff.service import users
from signoff.service.context import Context
from tests.cli.support import cli, failed, ok, ok_json, service, sql
from tests.integration.server import KEY


def test_demo_fills_a_fresh_instance_with_a_living_inbox(env: dict[str, str]) -> None:
    assert not Path(env["SIGNOFF_DATA_DIR"]).exists()
    # A key made beforehand (as `serve` does on its first start) does not make it "used".
    ok(env, "keys", "create", "--role", "admin")
    made = ok(env, "demo")
    assert "4 loops (support-replies, payments, content, agent-actions)" in made
    assert "9 pending and 6 decided requests" in made

    # How to log in: the password it printed signs in its people; the key is an admin's.
    password = re.search(r"password for all: (\S+)\)", made)
    assert password, made
    hashes = sql(env, "SELECT email, password_hash FROM users ORDER BY email")
    assert [e for e, _ in hashes] == [
        "ali@example.com",
        "ben@example.com",
        "chloe@example.com",
        "dana@example.com",
    ]
    assert all(PasswordHasher().verify(h, password.group(1)) for _, h in hashes)
    [key] = KEY.findall(made)

    async def who(ctx: Context) -> tuple[Role, str | None]:
        principal = await users.authenticate(ctx, key)
        return principal.role, principal.user_email

    assert service(env, who) == (Role.admin, "dana@example.com")

    pending = ok_json(env, "requests", "list", "--status", "pending")
    everything = ok_json(env, "requests", "list")
    assert len(pending) == 9 and len(everything) == 16
    assert {r["decision"] for r in everything} == {None, "approved", "rejected", "needs_changes"}
    assert {r["status"] for r in everything} == {"pending", "completed", "cancelled"}
    assert {r["content_type"] for r in everything} >= {"text", "markdown", "json", "image_url"}
    assert {r["priority"] for r in pending} == {"low", "normal", "high", "urgent"}
    assert {r["response"]["type"] for r in pending} == {"approval", "choice", "text"}
    assert sum(r["ai_analysis"] is not None for r in pending) >= 5
    [revision] = [r for r in pending if r["previous_request_id"]]
    first = ok_json(env, "requests", "show", revision["previous_request_id"])
    assert first["decision"] == "needs_changes" and first["feedback"]
    assert any(r["edited"] for r in everything)  # a reviewer's edit
    # A story in order, in the past, with deadlines still ahead.
    now = datetime.now(UTC)
    created = [datetime.fromisoformat(r["created_at"]) for r in everything]
    assert created == sorted(created, reverse=True) and max(created) < now
    assert all(datetime.fromisoformat(r["deadline_at"]) > now for r in pending if r["deadline_at"])
    half = [r for r in pending if r["title"].startswith("Refund $1,450")]
    assert ok_json(env, "requests", "show", half[0]["id"])["votes"][0]["choice"] == "approve"

    table = ok(env, "requests", "list", "--status", "pending").splitlines()
    assert len(table) == 10 and table[0].split()[:2] == ["ID", "STATUS"]
    assert ok(env, "audit", "verify").startswith("ok: ")

    # It shows the rules too: Ben may not approve his own reimbursement.
    [own] = [r for r in pending if r["requested_by"] == "ben@example.com"]
    refused = failed(env, "requests", "approve", own["id"], "--as", "ben@example.com")
    assert "does not allow approving your own request" in refused
    ok(env, "requests", "approve", own["id"], "--as", "ali@example.com")

    # Once is enough: a second run changes nothing.
    again = cli(env, "demo")
    assert again.exit_code == 1 and again.stdout == ""
    assert again.stderr.startswith("error: this instance already has people, loops or requests")
    assert len(ok_json(env, "requests", "list")) == 16
    assert len(ok_json(env, "users", "list")) == 4


def test_demo_refuses_an_instance_in_use(env: dict[str, str]) -> None:
    ok(env, "loops", "create", "mine")
    assert failed(env, "demo").startswith("error: this instance already has people")
    assert ok_json(env, "users", "list") == []
    assert ok_json(env, "requests", "list") == []
