"""Two schedulers, each with its own database connections (as two processes have), on one
database: every timer fires exactly once between them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from signoff.app import build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM
from signoff.scheduler.runner import Scheduler, SchedulerConfig
from signoff.service.loops import LoopDraft, create_loop
from signoff.service.requests import RequestDraft, create_requests
from signoff.store.tables import events

from .conftest import Clock, settled

REQUESTS = 300


async def test_two_schedulers_fire_each_deadline_exactly_once(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    one, two = build_context(settings, "http://x"), build_context(settings, "http://x")
    one.clock = two.clock = clock
    try:
        loop = await create_loop(one, SYSTEM, LoopDraft(name="both", reminders=(0.5,)))
        drafts = [RequestDraft(content=f"#{i}", timeout_seconds=60) for i in range(REQUESTS)]
        await create_requests(one, SYSTEM, loop.id, drafts, batch=True)
        schedulers = [Scheduler(c, SchedulerConfig(batch=10)) for c in (one, two)]
        for scheduler in schedulers:
            scheduler.start()
        clock.advance(61)  # every reminder (at 30 s) and every timeout (at 60 s) is due at once
        for scheduler in schedulers:
            scheduler.poke()
        await settled(one, clock, wait=120)  # a loaded CI machine is slow
        for scheduler in schedulers:
            await scheduler.stop()
        async with one.db.read() as conn:
            rows = await conn.execute(
                sa.select(events.c.type, events.c.request_id, sa.func.count().label("n"))
                .where(events.c.type.in_(["request.timed_out", "request.reminder"]))
                .group_by(events.c.type, events.c.request_id)
            )
            counts = [(r.type, r.n) for r in rows]
    finally:
        await one.db.dispose()
        await two.db.dispose()
    fired = [s.fired for s in schedulers]
    print(f"\n[two schedulers] fired {fired[0]} + {fired[1]} timers")
    assert sorted({n for _, n in counts}) == [1], "a timer fired twice"
    assert sum(1 for t, _ in counts if t == "request.timed_out") == REQUESTS
    assert sum(1 for t, _ in counts if t == "request.reminder") == REQUESTS
    assert sum(fired) == 2 * REQUESTS
