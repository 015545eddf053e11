"""`signoff worker` killed (SIGKILL) while stage timeouts fall due, and started again after:
every stage timeout fires exactly once, none early, and none of a stage the request has left.

Real processes and the real clock, as in test_crash.py. 150 requests in three two-stage loops
whose first stage times out 8, 9 and 10 s after creation; a third of the last loop's requests
are approved at their first stage at once, so their second stage's timeout (7 s) counts from
then and the timer of the stage they left must never fire. The worker is killed 8.5 s in (after
the first deadlines, before the rest) and started again at 12 s. The database is the judge:
each request holds one `request.timed_out` naming the stage it was in, written at or after that
stage's start plus its timeout.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from signoff.app import build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM, Choice, Principal, Request, Role, UserRole
from signoff.domain.voting import Ballot
from signoff.service.loops import LoopDraft, create_loop
from signoff.service.requests import RequestDraft, create_requests
from signoff.service.users import create_user
from signoff.service.votes import vote
from tests.webhooks_resilience.support import processes, query, signoff_env, wait_until, worker

from .test_crash import _sleep_until, _utc

N = 150
KILL_AT = 8.5  # seconds after the requests were made
RESTART_AT = 12.0
FINANCE_SECONDS = 7


def _make_requests(db_url: str, data_dir: Path) -> tuple[list[Request], set[str]]:
    """The requests, and the ids of those approved at their first stage."""

    async def make() -> tuple[list[Request], set[str]]:
        ctx = build_context(Settings(data_dir=data_dir, database_url=db_url), "http://x")
        try:
            ann = await create_user(ctx, SYSTEM, "ann@example.com", "Ann", UserRole.reviewer, None)
            loops = []
            for lead in (8, 9, 10):
                stages = (
                    {"name": "lead", "reviewers": [ann.id], "timeout_seconds": lead},
                    {"name": "finance", "timeout_seconds": FINANCE_SECONDS},
                )
                draft = LoopDraft(name=f"crash-{lead}", reviewers=(ann.id,), stages=stages)
                loops.append(await create_loop(ctx, SYSTEM, draft))
            made: list[Request] = []
            for i, loop in enumerate(loops):
                drafts = [RequestDraft(content=f"#{i}.{j}") for j in range(N // 3)]
                made += await create_requests(ctx, SYSTEM, loop.id, drafts, batch=True)
            last = [r for r in made if r.loop_id == loops[-1].id]
            moved = {r.id for r in last[::3]}
            reviewer = Principal(Role.reviewer, user_id=ann.id, user_email=ann.email)
            for request_id in moved:
                await vote(ctx, reviewer, request_id, Ballot(Choice.approve))
            return made, moved
        finally:
            await ctx.db.dispose()

    return asyncio.run(make())


def _timed_out(db_url: str) -> list[Any]:
    return query(
        db_url,
        "SELECT request_id, occurred_at, data FROM events WHERE type = 'request.timed_out'",
    )


@pytest.mark.slow
def test_a_killed_scheduler_fires_every_stage_timeout_once_and_none_early(
    db_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = signoff_env(data_dir=str(data_dir), database_url=db_url, scheduler_poll_seconds="1")
    logs = tmp_path / "logs"
    with processes() as started:
        first = worker(env, logs, "worker-1")
        started.append(first)
        created, moved = _make_requests(db_url, data_dir)
        t0 = min(r.created_at for r in created)
        _sleep_until(t0 + timedelta(seconds=KILL_AT))
        first.kill()
        before_kill = len(_timed_out(db_url))
        _sleep_until(t0 + timedelta(seconds=RESTART_AT))
        assert len(_timed_out(db_url)) == before_kill, "something fired with no scheduler"
        second = worker(env, logs, "worker-2")
        started.append(second)
        wait_until(
            "every stage timeout fired",
            lambda: len(_timed_out(db_url)) >= N and not query(db_url, "SELECT id FROM timers"),
            timeout=120,
            every=0.2,
        )
        assert second.alive(), second.stderr

    fired = _timed_out(db_url)
    counts: dict[str, int] = {}
    for row in fired:
        counts[row.request_id] = counts.get(row.request_id, 0) + 1
        data = json.loads(row.data) if isinstance(row.data, str) else row.data
        stage = data["stage"]
        assert stage["name"] == ("finance" if row.request_id in moved else "lead"), row.request_id
        due = _utc(stage["started_at"]) + timedelta(seconds=stage["timeout_seconds"])
        assert _utc(row.occurred_at) >= due, f"the stage timeout of {row.request_id} fired early"
    assert set(counts.values()) == {1}, "a stage timeout fired twice"
    assert set(counts) == {r.id for r in created}, "a stage timeout never fired"
    statuses = query(db_url, "SELECT status, COUNT(*) AS n FROM requests GROUP BY status")
    assert {(r.status, int(r.n)) for r in statuses} == {("timed_out", N)}
    print(
        f"\n[stage crash {db_url.split(':')[0]}] {before_kill} fired before the kill, "
        f"{len(fired) - before_kill} after the restart"
    )
    assert 0 < before_kill < N, "the kill should fall between the deadlines"
