"""The four tools, over stdio and over streamable HTTP, against a running server, with the
decisions made through the REST API (as the reviewer's web app or another client would)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from signoff.client import AsyncClient, Loop, Request
from tests.mcp.support import BOUND, Live, Session, connect, outcome, text

WAIT = 15.0  # the longest any bounded wait in these tests may take


async def pending_in(client: AsyncClient, loop_id: str) -> Request:
    """The one pending request of the loop, once there is one."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = (await client.list_requests(loop_id=loop_id, status="pending")).data
        assert len(found) <= 1, found
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no pending request in {loop_id} within {WAIT} s")


async def ask(session: Session, **arguments: Any) -> asyncio.Task[Any]:
    """request_approval, in flight."""
    return asyncio.create_task(session.call_tool("request_approval", arguments))


async def test_a_call_approved_while_it_waits_answers_the_decision_and_the_edit(
    transport: str, live: Live, loop: Loop, admin: AsyncClient, reviewer: AsyncClient
) -> None:
    asked = {
        "loop": loop.name,
        "content": "Refund $120 to Bob",
        "title": "Refund 4711",
        "metadata": {"order": 4711},
    }
    async with connect(transport, live, live.requester_key) as session:
        call = await ask(session, **asked)
        request = await pending_in(admin, loop.id)
        assert not call.done(), "the call waits for the decision"
        await reviewer.decide(request.id, "approve", edited_content="Refund $100 to Bob")
        result = await asyncio.wait_for(call, WAIT)
        found = outcome(result)
        assert found["request_id"] == request.id
        assert found["loop_id"] == loop.id
        assert (found["status"], found["decision"]) == ("completed", "approved")
        assert (found["content"], found["edited"]) == ("Refund $100 to Bob", True)
        assert found["review_url"].endswith(f"/requests/{request.id}")
        assert "APPROVED" in text(result) and "Refund $100 to Bob" in text(result)
        assert request.metadata == {"order": 4711} and request.title == "Refund 4711"

        # The same call again (a client's retry) finds the same request and its decision.
        again = outcome(await session.call_tool("request_approval", asked))
        assert again == found
    assert len((await admin.list_requests(loop_id=loop.id)).data) == 1


async def test_a_call_answers_pending_after_the_bound_then_get_decision_completes_it(
    transport: str, live: Live, loop: Loop, admin: AsyncClient, reviewer: AsyncClient
) -> None:
    async with connect(transport, live, live.requester_key) as session:
        progress: list[tuple[float, float | None, str | None]] = []

        async def report(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total, message))

        started = time.monotonic()
        result = await session.call_tool(
            "request_approval",
            {"loop": loop.id, "content": {"deploy": "v2.1", "env": "prod"}},
            progress_callback=report,
        )
        waited = time.monotonic() - started
        found = outcome(result)
        assert (found["status"], found["decision"]) == ("pending", None)
        assert waited >= BOUND - 0.5, "it waited for the bound before answering pending"
        assert progress and all(total == BOUND for _, total, _ in progress), progress
        assert [done for done, _, _ in progress] == sorted(done for done, _, _ in progress)
        request_id = found["request_id"]
        assert "get_decision" in found["next_step"] and request_id in text(result)
        assert found["content"] == {"deploy": "v2.1", "env": "prod"}

        now = outcome(
            await session.call_tool("get_decision", {"request_id": request_id, "wait_seconds": 0})
        )
        assert now["status"] == "pending"

        call = asyncio.create_task(session.call_tool("get_decision", {"request_id": request_id}))
        await asyncio.sleep(0.3)
        assert not call.done(), "get_decision waits too"
        await reviewer.decide(request_id, "approve")
        decided = outcome(await asyncio.wait_for(call, WAIT))
        assert (decided["status"], decided["decision"]) == ("completed", "approved")
        assert (decided["content"], decided["edited"]) == ({"deploy": "v2.1", "env": "prod"}, False)


async def test_a_rejection_carries_the_feedback(
    transport: str, live: Live, loop: Loop, admin: AsyncClient, reviewer: AsyncClient
) -> None:
    async with connect(transport, live, live.requester_key) as session:
        call = await ask(session, loop=loop.id, content="DROP TABLE customers", title="Cleanup")
        request = await pending_in(admin, loop.id)
        await reviewer.decide(request.id, "reject", feedback="Never drop production tables.")
        result = await asyncio.wait_for(call, WAIT)
    found = outcome(result)
    assert (found["status"], found["decision"]) == ("completed", "rejected")
    assert found["feedback"] == "Never drop production tables."
    assert "REJECTED" in text(result) and "Never drop production tables." in text(result)
    assert "do not do it" in found["next_step"].lower()


async def test_needs_changes_says_to_revise_with_previous_request_id(
    transport: str, live: Live, loop: Loop, admin: AsyncClient, reviewer: AsyncClient
) -> None:
    async with connect(transport, live, live.requester_key) as session:
        call = await ask(session, loop=loop.name, content="Dear customer, no.")
        first = await pending_in(admin, loop.id)
        await reviewer.decide(first.id, "needs_changes", feedback="Be polite.")
        found = outcome(await asyncio.wait_for(call, WAIT))
        assert (found["decision"], found["feedback"]) == ("needs_changes", "Be polite.")
        assert first.id in found["next_step"] and "previous_request_id" in found["next_step"]

        call = await ask(
            session,
            loop=loop.name,
            content="Dear customer, sadly not.",
            previous_request_id=first.id,
        )
        second = await pending_in(admin, loop.id)
        assert second.previous_request_id == first.id
        await reviewer.decide(second.id, "approve")
        assert outcome(await asyncio.wait_for(call, WAIT))["decision"] == "approved"


async def test_list_loops_names_each_loop_with_its_id(
    transport: str, live: Live, loop: Loop
) -> None:
    async with connect(transport, live, live.requester_key) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        result = await session.call_tool("list_loops", {})
    assert set(tools) == {"request_approval", "get_decision", "list_loops", "cancel_request"}
    assert all(tool.description and tool.output_schema for tool in tools.values())
    [mine] = [found for found in outcome(result)["loops"] if found["id"] == loop.id]
    assert mine == {
        "id": loop.id,
        "name": loop.name,
        "description": "",
        "reviewers": 1,
        "required_approvals": 1,
    }
    assert f"{loop.name} (id {loop.id})" in text(result)


async def test_cancel_request_withdraws_a_pending_request_once(
    transport: str, live: Live, loop: Loop, reviewer: AsyncClient
) -> None:
    async with AsyncClient(live.url, live.requester_key) as agent:
        request = await agent.create_request(loop.id, "Publish the post")
        decided = await agent.create_request(loop.id, "Publish the other post")
    await reviewer.decide(decided.id, "approve")
    async with connect(transport, live, live.requester_key) as session:
        cancel = {"request_id": request.id, "reason": "the user changed their mind"}
        found = outcome(await session.call_tool("cancel_request", cancel))
        assert (found["status"], found["decision"]) == ("cancelled", None)
        assert "do not act" in found["next_step"].lower()
        assert outcome(await session.call_tool("cancel_request", cancel)) == found  # a retry
        again = {"request_id": request.id, "reason": "said twice"}
        assert outcome(await session.call_tool("cancel_request", again)) == found
        late = await session.call_tool("cancel_request", {"request_id": decided.id})
        unknown = await session.call_tool("get_decision", {"request_id": "req_nope"})
    assert late.is_error and "already ended (approved)" in text(late)
    assert unknown.is_error and "req_nope" in text(unknown) and "list_loops" not in text(unknown)
    assert (await reviewer.get_request(request.id)).status == "cancelled"


async def test_an_unknown_loop_is_a_tool_error_that_points_to_list_loops(
    transport: str, live: Live
) -> None:
    async with connect(transport, live, live.requester_key) as session:
        result = await session.call_tool(
            "request_approval", {"loop": "no-such-loop", "content": "x"}
        )
    assert result.is_error
    assert "no-such-loop" in text(result) and "list_loops" in text(result)


async def test_the_keys_role_applies_a_reviewer_key_cannot_ask(
    transport: str, live: Live, loop: Loop, admin: AsyncClient
) -> None:
    async with connect(transport, live, live.reviewer_key) as session:
        result = await session.call_tool("request_approval", {"loop": loop.id, "content": "x"})
    assert result.is_error and "does not allow" in text(result)
    assert (await admin.list_requests(loop_id=loop.id)).data == []
