"""`require_approval` and `approval`: ask, wait, go on only when approved (sync and async)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from signoff import ChangesRequested, Rejected, approval, require_approval
from signoff.client import AsyncClient, Cancelled, Client, Loop, NotApproved, Request

from .conftest import Live
from .support import WAIT, deciding, pending_in, until


def test_approved_runs_the_function(admin: Client, reviewer: Client, loop: Loop) -> None:
    ran: list[tuple[int, int]] = []

    @require_approval(loop=loop.id, client=admin, timeout=30)
    def refund(order: int, amount: int = 120) -> str:
        ran.append((order, amount))
        return "refunded"

    with deciding(reviewer, loop.id, "approve") as seen:
        assert refund(4711) == "refunded"
    assert ran == [(4711, 120)]
    [request] = seen
    assert request.content_type == "json"
    assert request.content == {
        "function": f"{__name__}.test_approved_runs_the_function.<locals>.refund",
        "arguments": {"order": 4711, "amount": 120},
    }
    assert (
        request.title == "test_approved_runs_the_function.<locals>.refund(order=4711, amount=120)"
    )


def test_reviewer_edits_change_the_arguments(admin: Client, reviewer: Client, loop: Loop) -> None:
    ran: list[dict[str, Any]] = []

    @require_approval(loop=loop.id, client=admin, timeout=30)
    def send(to: str, body: str, *, cc: object = None) -> None:
        ran.append({"to": to, "body": body, "cc": cc})

    marker = object()  # not JSON: sent as its repr, and kept as it is when left unedited
    with deciding(
        reviewer,
        loop.id,
        "approve",
        edited_content={
            "function": "ignored",
            "arguments": {"to": "bob@example.com", "body": "Hello Bob, kindly", "cc": repr(marker)},
        },
    ):
        send("bob@example.com", "Hello Bob", cc=marker)
    assert ran == [{"to": "bob@example.com", "body": "Hello Bob, kindly", "cc": marker}]


def test_rejected_raises_with_the_feedback(
    live: Live, admin: Client, reviewer: Client, loop: Loop
) -> None:
    ran: list[int] = []

    @require_approval(loop=loop.name, client=admin, timeout=30)  # by name
    def delete_rows(count: int) -> None:
        ran.append(count)

    with deciding(reviewer, loop.id, "reject", feedback="Never on a Friday") as seen:
        with pytest.raises(Rejected) as caught:
            delete_rows(12)
    assert ran == []
    error = caught.value
    assert isinstance(error, NotApproved)
    assert error.feedback == "Never on a Friday"
    assert error.request_id == seen[0].id
    assert error.decided_by[0]["user_id"] == live.reviewer_id
    assert "Never on a Friday" in str(error)


def test_changes_requested(admin: Client, reviewer: Client, loop: Loop) -> None:
    @require_approval(loop=loop.id, client=admin, timeout=30)
    def publish(text: str) -> None:
        raise AssertionError("must not run")

    with deciding(reviewer, loop.id, "needs_changes", feedback="Add a summary"):
        with pytest.raises(ChangesRequested) as caught:
            publish("draft")
    assert caught.value.feedback == "Add a summary"
    assert caught.value.decision.decision == "needs_changes"


def test_when_false_runs_without_asking(admin: Client, loop: Loop) -> None:
    @require_approval(loop=loop.id, client=admin, when=lambda amount, **_: amount > 100, timeout=1)
    def refund(order: int, amount: int) -> int:
        return amount

    assert refund(1, 50) == 50
    assert admin.list_requests(loop_id=loop.id).data == []


def test_describe_and_fields(admin: Client, reviewer: Client, loop: Loop) -> None:
    @require_approval(
        loop=loop.id,
        client=admin,
        timeout=30,
        describe=lambda version, **_: f"Deploy {version} to production",
        title=lambda version, **_: f"Deploy {version}",
        priority="urgent",
        metadata={"team": "infra"},
    )
    def deploy(version: str, dry_run: bool = False) -> str:
        return version

    with deciding(reviewer, loop.id, "approve", edited_content="Deploy 9.9") as seen:
        assert deploy("1.2.3") == "1.2.3"  # edits to a custom description change nothing
    [request] = seen
    assert (request.content, request.content_type) == ("Deploy 1.2.3 to production", "text")
    assert (request.title, request.priority) == ("Deploy 1.2.3", "urgent")
    assert request.metadata == {"team": "infra"}


def test_the_same_call_finds_the_same_request(admin: Client, reviewer: Client, loop: Loop) -> None:
    calls: list[str] = []

    @require_approval(loop=loop.id, client=admin, timeout=30)
    def rotate(secret: str) -> None:
        calls.append(secret)

    with deciding(reviewer, loop.id, "approve"):
        rotate("db")
    rotate("db")  # answered by the first request's approval: not asked twice
    assert calls == ["db", "db"]
    assert len(admin.list_requests(loop_id=loop.id).data) == 1

    @require_approval(loop=loop.id, client=admin, timeout=0.3, key="rotate-db-again")
    def rotate_again(secret: str) -> None:
        calls.append(secret)

    with pytest.raises(Exception, match="still pending"):
        rotate_again("db")  # another key: a new request, still pending
    assert len(admin.list_requests(loop_id=loop.id).data) == 2


def test_cancelled_request(admin: Client, loop: Loop) -> None:
    @require_approval(loop=loop.id, client=admin, timeout=30)
    def act() -> None:
        raise AssertionError("must not run")

    def cancel() -> None:
        admin.cancel_request(pending_in(admin, loop.id).id, reason="changed my mind")

    thread = threading.Thread(target=cancel)
    thread.start()
    with pytest.raises(Cancelled):
        act()
    thread.join()


def test_a_client_of_the_wrong_kind_is_refused(aadmin: AsyncClient, admin: Client) -> None:
    with pytest.raises(TypeError, match="AsyncClient"):

        @require_approval(loop="x", client=admin)
        async def needs_async() -> None: ...

    with pytest.raises(TypeError, match="Client"):

        @require_approval(loop="x", client=aadmin)
        def needs_sync() -> None: ...


# The context manager


def test_context_manager(admin: Client, reviewer: Client, loop: Loop) -> None:
    with deciding(reviewer, loop.id, "approve", edited_content="Deploy 1.2.4"):
        with approval(loop.id, "Deploy 1.2.3", client=admin, timeout=30, title="Deploy") as ok:
            assert ok.approved and ok.content == "Deploy 1.2.4" and ok.edited

    with deciding(reviewer, loop.id, "reject", feedback="freeze"):
        with pytest.raises(Rejected, match="freeze"):
            with approval(loop.name, "Deploy 1.3", client=admin, timeout=30):
                raise AssertionError("the body must not run")


# Async


async def _decide_next(reviewer: AsyncClient, loop_id: str, choice: str, **vote: Any) -> Request:
    for _ in range(int(WAIT / 0.02)):
        found = (await reviewer.list_requests(loop_id=loop_id, status="pending")).data
        if found:
            await reviewer.decide(found[0].id, choice, **vote)  # type: ignore[arg-type]
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no pending request")


async def test_async_decorator(aadmin: AsyncClient, areviewer: AsyncClient, loop: Loop) -> None:
    ran: list[int] = []

    @require_approval(loop=loop.name, client=aadmin, timeout=30)
    async def charge(cents: int) -> int:
        ran.append(cents)
        return cents

    edit = {"arguments": {"cents": 500}}
    reviewing = asyncio.create_task(
        _decide_next(areviewer, loop.id, "approve", edited_content=edit)
    )
    assert await charge(900) == 500
    await reviewing
    assert ran == [500]

    reviewing = asyncio.create_task(_decide_next(areviewer, loop.id, "reject", feedback="no"))
    with pytest.raises(Rejected):
        await charge(901)
    await reviewing

    reviewing = asyncio.create_task(
        _decide_next(areviewer, loop.id, "needs_changes", feedback="less")
    )
    with pytest.raises(ChangesRequested, match="less"):
        await charge(902)
    await reviewing
    assert ran == [500]


async def test_async_context_manager(
    aadmin: AsyncClient, areviewer: AsyncClient, loop: Loop
) -> None:
    reviewing = asyncio.create_task(_decide_next(areviewer, loop.id, "approve"))
    async with approval(loop.id, {"plan": [1, 2]}, client=aadmin, timeout=30) as ok:
        assert ok.content == {"plan": [1, 2]} and not ok.edited
    await reviewing

    reviewing = asyncio.create_task(_decide_next(areviewer, loop.id, "reject", feedback="no"))
    with pytest.raises(Rejected):
        async with approval(loop.id, {"plan": [3]}, client=aadmin, timeout=30):
            raise AssertionError("the body must not run")
    await reviewing


def test_default_client_from_the_environment(
    live: Live, reviewer: Client, loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNOFF_URL", live.url)
    monkeypatch.setenv("SIGNOFF_API_KEY", live.admin_key)

    @require_approval(loop=loop.id, timeout=30)
    def act(n: int) -> int:
        return n * 2

    with deciding(reviewer, loop.id, "approve"):
        assert act(21) == 42


# A process killed while it waits, run again


SCRIPT = """
import logging, sys
from pathlib import Path
from signoff import require_approval

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
log = Path(sys.argv[2])

@require_approval(loop=sys.argv[1], timeout=60)
def deploy(version: str, replicas: int = 3) -> None:
    with log.open("a") as out:
        out.write(f"deployed {version} x{replicas}\\n")

deploy("1.2.3")
print("done", flush=True)
"""


def test_a_killed_waiter_run_again_finds_the_same_request(
    live: Live, admin: Client, reviewer: Client, loop: Loop, tmp_path: Path
) -> None:
    script = tmp_path / "deploy.py"
    script.write_text(SCRIPT)
    deployed = tmp_path / "deployed.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env.update(SIGNOFF_URL=live.url, SIGNOFF_API_KEY=live.admin_key)

    def start(run: int) -> tuple[subprocess.Popen[bytes], Path]:
        out = tmp_path / f"run{run}.out"
        with out.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, str(script), loop.id, str(deployed)],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        return process, out

    def waiting_on(out: Path) -> str | None:
        found = re.search(r"request (req_\w+)", out.read_text())
        return found.group(1) if found else None

    first, out1 = start(1)
    asked = until(lambda: waiting_on(out1), "the first run to wait")
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(WAIT) == -signal.SIGKILL
    assert not deployed.exists()

    second, out2 = start(2)
    assert until(lambda: waiting_on(out2), "the second run to wait") == asked
    assert [r.id for r in admin.list_requests(loop_id=loop.id)] == [asked]
    reviewer.decide(asked, "approve")
    assert second.wait(WAIT) == 0, out2.read_text()
    assert deployed.read_text() == "deployed 1.2.3 x3\n"
    assert [r.id for r in admin.list_requests(loop_id=loop.id)] == [asked]
