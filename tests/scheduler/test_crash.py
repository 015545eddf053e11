"""`signoff worker` killed (SIGKILL) while deadlines fall due, and started again after the
last of them: every deadline fires exactly once, none early, and the restarted worker catches
up on what fell due while no scheduler ran.

Real processes and the real clock: 200 requests with a reminder at half-time and deadlines
8, 9 and 10 s after creation; the worker is killed 8.5 s in (after the reminders and the
first deadlines, just before the rest) and started again at 11 s. The database is the judge:
each request must hold one `request.reminder` and one `request.timed_out` event, each written
at or after its due time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signoff.app import build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM, Request
from signoff.service.loops import LoopDraft, create_loop
from signoff.service.requests import RequestDraft, create_requests
from tests.webhooks_resilience.support import processes, query, signoff_env, wait_until, worker

N = 200
KILL_AT = 8.5  # seconds after the requests were made
RESTART_AT = 11.0


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _make_requests(db_url: str, data_dir: Path) -> list[Request]:
    async def make() -> list[Request]:
        ctx = build_context(Settings(data_dir=data_dir, database_url=db_url), "http://x")
        try:
            loop = await create_loop(ctx, SYSTEM, LoopDraft(name="crash", reminders=(0.5,)))
            drafts = [RequestDraft(content=f"#{i}", timeout_seconds=8 + i % 3) for i in range(N)]
            return await create_requests(ctx, SYSTEM, loop.id, drafts, batch=True)
        finally:
            await ctx.db.dispose()

    return asyncio.run(make())


def _fired(db_url: str) -> list[Any]:
    return query(
        db_url,
        "SELECT type, request_id, occurred_at FROM events "
        "WHERE type IN ('request.reminder', 'request.timed_out')",
    )


def _sleep_until(moment: datetime) -> None:
    time.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0))


@pytest.mark.slow
def test_a_killed_scheduler_fires_every_deadline_once_and_none_early(
    db_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = signoff_env(data_dir=str(data_dir), database_url=db_url, scheduler_poll_seconds="1")
    logs = tmp_path / "logs"
    with processes() as started:
        first = worker(env, logs, "worker-1")  # started and ready before the clock starts
        started.append(first)
        created = _make_requests(db_url, data_dir)
        t0 = min(r.created_at for r in created)
        _sleep_until(t0 + timedelta(seconds=KILL_AT))
        first.kill()
        killed_at = datetime.now(UTC)
        before_kill = _fired(db_url)
        assert all(_utc(r.occurred_at) < killed_at for r in before_kill)
        _sleep_until(t0 + timedelta(seconds=RESTART_AT))
        assert len(_fired(db_url)) == len(before_kill), "something fired with no scheduler"
        restarted_at = datetime.now(UTC)
        second = worker(env, logs, "worker-2")
        started.append(second)
        wait_until(
            "every deadline fired",
            lambda: len(_fired(db_url)) >= 2 * N and not query(db_url, "SELECT id FROM timers"),
            timeout=120,
            every=0.2,
        )
        assert second.alive(), second.stderr

    fired = _fired(db_url)
    by_request = {r.id: r for r in created}
    counts: dict[tuple[str, str], int] = {}
    for row in fired:
        counts[(row.type, row.request_id)] = counts.get((row.type, row.request_id), 0) + 1
        request = by_request[row.request_id]
        assert request.deadline_at is not None
        due = (
            request.deadline_at
            if row.type == "request.timed_out"
            else request.created_at + (request.deadline_at - request.created_at) * 0.5
        )
        assert _utc(row.occurred_at) >= due, f"{row.type} of {row.request_id} fired early"
    assert set(counts.values()) == {1}, "a deadline fired twice"
    assert len(counts) == 2 * N, "a deadline never fired"
    statuses = query(db_url, "SELECT status, COUNT(*) AS n FROM requests GROUP BY status")
    assert {(r.status, int(r.n)) for r in statuses} == {("timed_out", N)}
    after_restart = [r for r in fired if _utc(r.occurred_at) >= restarted_at]
    lateness = [
        _utc(r.occurred_at) - _utc(by_request[r.request_id].deadline_at)
        for r in before_kill
        if r.type == "request.timed_out"
    ]
    late = max(lateness, default=None)
    print(
        f"\n[scheduler crash {db_url.split(':')[0]}] {len(before_kill)} fired before the kill, "
        f"{len(after_restart)} after the restart; most lateness before the kill: {late}"
    )
    assert 0 < len(before_kill) < 2 * N, "the kill should fall between the deadlines"
    assert len(before_kill) + len(after_restart) == 2 * N
