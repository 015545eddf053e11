"""`signoff requests list|show|approve|reject|cancel`: the API's decision rules, from a shell."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from signoff.domain.model import SYSTEM, ContentType, Priority
from signoff.service import events, requests
from signoff.service.context import Context
from tests.cli.support import ask, cli, failed, ok, ok_json, service
from tests.integration.server import serve


@dataclass
class World:
    env: dict[str, str]
    payments: str  # ann and bo review; two approvals
    support: str  # ann reviews; one approval


@pytest.fixture
def world(env: dict[str, str]) -> World:
    for name in ("ann", "bo", "cy"):
        ok(env, "users", "create", "--email", f"{name}@example.com", "--name", name.title())
    ok(env, "users", "create", "--email", "dana@example.com", "--name", "Dana", "--role", "admin")
    payments = ok(
        env,
        "loops",
        "create",
        "payments",
        "--reviewer",
        "ann@example.com",
        "--reviewer",
        "bo@example.com",
        "--approvals",
        "2",
    ).strip()
    support = ok(env, "loops", "create", "support", "--reviewer", "ann@example.com").strip()
    return World(env, payments, support)


def test_list_filters_by_loop_and_status(world: World) -> None:
    env = world.env
    first = ask(env, world.payments, "Refund $10", title="Refund 10")
    second = ask(env, world.support, "Hello Jo", title="Reply to Jo")
    third = ask(env, world.payments, "Refund $30", title="Refund 30", priority=Priority.urgent)
    ok(env, "requests", "cancel", first, "--reason", "duplicate")

    assert [r["id"] for r in ok_json(env, "requests", "list")] == [third, second, first]
    by_name = ok_json(env, "requests", "list", "--loop", "payments")
    assert [r["id"] for r in by_name] == [third, first]
    by_id = ok_json(env, "requests", "list", "--loop", world.payments, "--status", "pending")
    assert [r["id"] for r in by_id] == [third]
    assert by_id[0]["priority"] == "urgent" and by_id[0]["review_url"].endswith(third)
    cancelled = ok_json(env, "requests", "list", "--status", "cancelled")
    assert [(r["id"], r["feedback"]) for r in cancelled] == [(first, "duplicate")]
    newest = cli(env, "requests", "list", "--limit", "2")
    assert newest.exit_code == 0 and "more with --limit" in newest.stderr
    rows = [line.split() for line in newest.stdout.splitlines()]
    assert rows[0][:5] == ["ID", "STATUS", "PRIORITY", "LOOP", "CREATED"]
    assert [(r[0], r[1], r[2], r[3]) for r in rows[1:]] == [
        (third, "pending", "urgent", "payments"),
        (second, "pending", "normal", "support"),
    ]

    assert failed(env, "requests", "list", "--loop", "nope") == (
        "error: no loop with id or name 'nope'\n"
    )
    assert "'done' is not one of" in failed(env, "requests", "list", "--status", "done", code=2)


def test_quorum_self_approval_and_membership(world: World) -> None:
    env = world.env
    mine = ask(env, world.payments, "Pay Ann's travel", requested_by="Ann@example.com")
    own = failed(env, "requests", "approve", mine, "--as", "ann@example.com")
    assert own == f"error: loop {world.payments} does not allow approving your own request\n"
    outsider = failed(env, "requests", "approve", mine, "--as", "cy@example.com")
    assert outsider == f"error: you are not a reviewer of loop {world.payments}\n"
    nobody = failed(env, "requests", "approve", mine, "--as", "zed@example.com")
    assert nobody == "error: no user with email zed@example.com\n"

    first = ok_json(env, "requests", "approve", mine, "--as", "bo@example.com", "--feedback", "ok")
    assert first["status"] == "pending" and (first["approvals"], first["required_approvals"]) == (
        1,
        2,
    )
    again = failed(env, "requests", "approve", mine, "--as", "bo@example.com")
    assert again == f"error: you have already voted on request {mine}\n"
    # An admin may review any loop.
    done = ok(env, "requests", "approve", mine, "--as", "dana@example.com")
    assert done == f"{mine} approved\n"
    shown = ok_json(env, "requests", "show", mine)
    assert (shown["status"], shown["decision"], shown["feedback"]) == (
        "completed",
        "approved",
        "ok",
    )
    assert [v["voter"]["email"] for v in shown["votes"]] == ["bo@example.com", "dana@example.com"]
    assert [d["email"] for d in shown["decided_by"]] == ["bo@example.com", "dana@example.com"]
    late = failed(env, "requests", "reject", mine, "--as", "ann@example.com", "--feedback", "no")
    assert late == f"error: request {mine} is completed; a vote can no longer change it\n"

    # The decision is recorded as the API records it: one event per vote, then the decision.
    async def history(ctx: Context) -> list[tuple[str, str | None]]:
        found = await events.request_events(ctx, SYSTEM, mine)
        return [(e.type, e.actor.get("email")) for e in found]

    assert service(env, history) == [
        ("request.created", None),
        ("request.vote", "bo@example.com"),
        ("request.vote", "dana@example.com"),
        ("request.completed", "dana@example.com"),
    ]


def test_reject_needs_feedback_and_can_ask_for_changes(world: World) -> None:
    env = world.env
    req = ask(env, world.support, "Dear Jo, we refund everything forever.")
    missing = failed(env, "requests", "reject", req, "--as", "ann@example.com", code=2)
    assert "Missing option '--feedback'" in missing
    blank = failed(env, "requests", "reject", req, "--as", "ann@example.com", "--feedback", "  ")
    assert blank == "error: --feedback: a rejection or a change request needs feedback\n"
    asked = ok(
        env,
        "requests",
        "reject",
        req,
        "--as",
        "ann@example.com",
        "--needs-changes",
        "--feedback",
        "We refund within 30 days only.",
    )
    assert asked == f"{req} needs_changes\n"
    shown = ok_json(env, "requests", "show", req)
    assert (shown["decision"], shown["feedback"]) == (
        "needs_changes",
        "We refund within 30 days only.",
    )

    other = ask(env, world.support, "Hi")
    ok(env, "requests", "reject", other, "--as", "ann@example.com", "--feedback", "Too short")
    assert ok_json(env, "requests", "show", other)["decision"] == "rejected"


def test_edited_content_answers_and_the_content_hash(world: World, tmp_path: object) -> None:
    env = world.env
    text = ask(env, world.support, "Dear Jo, your refund is on its way.")
    ok(env, "requests", "approve", text, "--as", "ann@example.com", "--content", "Dear Jo, sent.")
    shown = ok_json(env, "requests", "show", text)
    assert (shown["final_content"], shown["edited"]) == ("Dear Jo, sent.", True)

    data = ask(env, world.support, {"amount": 10}, content_type=ContentType.json)
    bad = failed(env, "requests", "approve", data, "--as", "ann@example.com", "--content", "{x")
    assert bad.startswith("error: --content: this request's content is JSON; that is not JSON")
    empty = failed(
        env, "requests", "approve", data, "--as", "ann@example.com", "--content-file", "-"
    )
    assert "that is not JSON" in empty  # stdin was empty
    assert ok_json(env, "requests", "show", data)["status"] == "pending"
    result = cli(
        env,
        "requests",
        "approve",
        data,
        "--as",
        "ann@example.com",
        "--content-file",
        "-",
        input='{"amount": 8}',
    )
    assert result.exit_code == 0, result.stderr
    assert ok_json(env, "requests", "show", data)["final_content"] == {"amount": 8}

    choice = ask(
        env,
        world.support,
        "Which headline?",
        response={"type": "choice", "options": ["A", "B"]},
    )
    missing = failed(env, "requests", "approve", choice, "--as", "ann@example.com")
    assert missing == "error: --response-data: a choice request needs response_data\n"
    wrong = failed(
        env, "requests", "approve", choice, "--as", "ann@example.com", "--response-data", '"C"'
    )
    assert wrong.startswith("error: --response-data: not an option: ['C']")
    assert "is not JSON" in failed(
        env,
        "requests",
        "approve",
        choice,
        "--as",
        "ann@example.com",
        "--response-data",
        "B",
        code=2,
    )
    ok(env, "requests", "approve", choice, "--as", "ann@example.com", "--response-data", '"B"')
    assert ok_json(env, "requests", "show", choice)["response_data"] == "B"

    # A vote is bound to the content it was cast on: change the content, and an old hash is
    # refused and earlier votes are voided.
    bound = ask(env, world.payments, "Refund $100")
    seen = ok_json(env, "requests", "show", bound)["content_hash"]
    ok(env, "requests", "approve", bound, "--as", "ann@example.com", "--content-hash", seen)

    async def change(ctx: Context) -> None:
        await requests.update_request(ctx, SYSTEM, bound, {"content": "Refund $1,000"})

    service(env, change)
    stale = failed(
        env, "requests", "approve", bound, "--as", "bo@example.com", "--content-hash", seen
    )
    assert stale == (
        "error: the content changed since you read it; read it again and vote on what it says now\n"
    )
    after = ok_json(env, "requests", "show", bound)
    assert after["status"] == "pending"
    assert [v["voided_at"] is not None for v in after["votes"]] == [True]
    assert "(voided: the content changed)" in ok(env, "requests", "show", bound)
    answer = ok_json(
        env,
        "requests",
        "approve",
        bound,
        "--as",
        "bo@example.com",
        "--content-hash",
        after["content_hash"],
    )
    assert (answer["approvals"], answer["status"]) == (1, "pending")


def test_show_and_cancel(world: World) -> None:
    env = world.env
    req = ask(
        env,
        world.payments,
        {"order": "7781", "amount": 640},
        content_type=ContentType.json,
        title="Refund order 7781",
        context="Charged twice",
        metadata={"ticket": "T-1"},
        ai_analysis={"confidence": 0.9, "flags": ["duplicate_charge"]},
        requested_by="billing-agent",
    )
    ok(env, "requests", "approve", req, "--as", "ann@example.com", "--feedback", "Seen in Stripe")
    shown = ok(env, "requests", "show", req)
    for line in (
        f"{req}  Refund order 7781",
        f"  loop:         payments ({world.payments})",
        "  status:       pending (1 of 2 approvals)",
        "  requested by: billing-agent",
        "── content (json)",
        '  "amount": 640',
        "Charged twice",
        '"ticket": "T-1"',
        '"duplicate_charge"',
        "ann@example.com  approve: Seen in Stripe",
    ):
        assert line in shown, (line, shown)
    as_json = ok_json(env, "requests", "show", req)
    assert as_json["content"] == {"order": "7781", "amount": 640}
    assert as_json["votes"][0]["choice"] == "approve"

    cancelled = ok_json(env, "requests", "cancel", req, "--reason", "customer withdrew")
    assert (cancelled["status"], cancelled["feedback"]) == ("cancelled", "customer withdrew")
    assert failed(env, "requests", "cancel", req) == (
        f"error: request {req} is cancelled; it cannot become cancelled\n"
    )
    assert failed(env, "requests", "approve", req, "--as", "bo@example.com") == (
        f"error: request {req} is cancelled; a vote can no longer change it\n"
    )
    gone = "req_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert failed(env, "requests", "show", gone) == f"error: no request with id {gone!r}\n"
    assert failed(env, "requests", "cancel", gone) == f"error: no request with id {gone!r}\n"


def test_show_prints_the_review_url_the_server_answers(env: dict[str, str], tmp_path: Path) -> None:
    with serve(env, tmp_path / "logs") as server:
        assert not server.url.endswith(":8000")  # a port other than the default
        headers = {"Authorization": f"Bearer {server.first_key()}"}
        loop = _post(f"{server.url}/v1/loops", {"name": "payments"}, headers)
        created = _post(
            f"{server.url}/v1/loops/{loop['id']}/requests", {"content": "Refund $120?"}, headers
        )
        answered = created["review_url"]
        assert answered == f"{server.url}/requests/{created['id']}"
        assert f"  review link:  {answered}\n" in ok(env, "requests", "show", created["id"])
        assert ok_json(env, "requests", "show", created["id"])["review_url"] == answered
        assert ok_json(env, "requests", "list")[0]["review_url"] == answered
    # The server stopped: the URL it served at is still the one to print.
    assert f"  review link:  {answered}\n" in ok(env, "requests", "show", created["id"])
    # A configured public URL wins, as it does for the server.
    public = {**env, "SIGNOFF_PUBLIC_URL": "https://signoff.example.com"}
    shown = ok_json(public, "requests", "show", created["id"])
    assert shown["review_url"] == f"https://signoff.example.com/requests/{created['id']}"


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    r = httpx.post(url, json=body, headers=headers, timeout=10, trust_env=False)
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer
