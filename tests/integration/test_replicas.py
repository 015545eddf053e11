"""Two replicas on one PostgreSQL database: a decision on one wakes a long-poll on the other."""

from __future__ import annotations

import asyncio

import pytest

from signoff.app import Runtime, build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM, Choice, Role, UserRole
from signoff.domain.voting import Ballot
from signoff.service import loops, requests, users, votes
from signoff.service.context import Context


async def test_a_decision_on_one_replica_wakes_a_waiter_on_another(
    settings: Settings, ctx: Context
) -> None:
    if ctx.db.is_sqlite:
        pytest.skip("replicas share a database only on PostgreSQL")
    other = Runtime(build_context(settings, "http://replica-b"), settings)
    async with other.running() as replica_b:
        ann = await users.create_user(
            ctx, SYSTEM, "ann@example.com", "Ann", UserRole.reviewer, None
        )
        key = await users.create_key(ctx, SYSTEM, "ann", Role.reviewer, ann.id)
        voter = await users.authenticate(replica_b, key.secret)
        loop = await loops.create_loop(ctx, SYSTEM, loops.LoopDraft("refunds", reviewers=(ann.id,)))
        [req] = await requests.create_requests(
            ctx, SYSTEM, loop.id, [requests.RequestDraft("Refund $5")], batch=False
        )
        waiter = asyncio.create_task(requests.wait_for_response(ctx, SYSTEM, req.id, 20))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        clock = asyncio.get_running_loop().time
        await votes.vote(replica_b, voter, req.id, Ballot(Choice.approve))
        decided = clock()
        done = await asyncio.wait_for(waiter, 5)
        assert done.decision is not None and done.decision.value == "approved"
        assert clock() - decided < 0.5, "woken by NOTIFY, not by the 20 s timeout"
        assert ctx.notifier.waiting == 0
