"""Concurrent creates across two replicas (two engines on one database) still take turns.

Each create locks its loop's row before it reads the round robin cursor or the loads, so the
database serializes them: 90 requests made at once over 3 reviewers give exactly 30 each.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from signoff.app import build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM, AssignmentStrategy, Principal, Request, Role, UserRole
from signoff.service.context import Context
from signoff.service.loops import LoopDraft, create_loop
from signoff.service.requests import RequestDraft, create_requests
from signoff.service.users import create_user

REQUESTER = Principal(role=Role.requester, key_id="key_test", name="workflow")
COUNT = 90


@pytest.fixture
async def replica(ctx: Context, settings: Settings) -> AsyncIterator[Context]:
    """A second process's view of the same database: its own engine and connections."""
    other = build_context(settings, "http://testserver")
    yield other
    await other.db.dispose()


async def _loop(ctx: Context, strategy: AssignmentStrategy) -> tuple[str, list[str]]:
    ids = [
        (await create_user(ctx, SYSTEM, f"{n}-{strategy}@x.org", n, UserRole.reviewer, None)).id
        for n in ("ann", "bob", "cat")
    ]
    draft = LoopDraft(name=f"busy-{strategy}", reviewers=tuple(ids), assignment=strategy)
    return (await create_loop(ctx, SYSTEM, draft)).id, ids


async def _create_at_once(ctxs: list[Context], loop_id: str) -> list[Request]:
    async def one(i: int) -> Request:
        draft = RequestDraft(content=f"item {i}")
        [made] = await create_requests(
            ctxs[i % len(ctxs)], REQUESTER, loop_id, [draft], batch=False
        )
        return made

    return await asyncio.gather(*(one(i) for i in range(COUNT)))


@pytest.mark.parametrize(
    "strategy", [AssignmentStrategy.round_robin, AssignmentStrategy.least_loaded]
)
async def test_concurrent_creates_on_two_replicas_share_the_work_evenly(
    ctx: Context, replica: Context, strategy: AssignmentStrategy
) -> None:
    loop_id, ids = await _loop(ctx, strategy)
    made = await _create_at_once([ctx, replica], loop_id)
    assert all(len(r.assignees) == 1 for r in made)
    counts = Counter(r.assignees[0].user_id for r in made)
    assert counts == {i: COUNT // 3 for i in ids}
    assert len({r.id for r in made}) == COUNT
