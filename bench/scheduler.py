"""Scheduler benchmark: how late deadlines fire, and how fast, against plain cancels.

    .venv/bin/python bench/scheduler.py                      # SQLite, 10,000 due at once
    .venv/bin/python bench/scheduler.py --postgres-url postgresql://postgres@127.0.0.1/test
    .venv/bin/python bench/scheduler.py --spread 180 --count 100000  # the issue-5 aim

Each run makes a fresh database, creates `--count` requests through the service (batches of
1,000), waits for the sealer (and on PostgreSQL vacuums), then moves every deadline (the
requests' `deadline_at` and their timers' `due_at`) to 2 s + 1 s per 2,000 requests from now, or
spreads them evenly over `--spread` seconds from then: setting the deadlines after creating the
requests is what lets 10,000 fall due at one instant. Signoff then runs as
`signoff serve`/`signoff worker` run it (Runtime.running: scheduler, dispatcher, sealer) on
the real clock.

*Fired* is when the firing transaction has committed and woken the request's long-polls (the
notifier's publish, called after commit); *lateness* is fired - deadline. Firings/s is the
count over the time from the first deadline to the last firing. The baseline, in the same run
and on the same database: plain `cancel_request` calls through the service
(one transaction each, 16 at a time), the cheapest way a request leaves `pending` by hand;
`--baseline-count` of them (2,000 by default: a rate, so fewer suffice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from signoff.app import Runtime, build_context
from signoff.config import Settings
from signoff.domain.model import SYSTEM
from signoff.service.context import Context
from signoff.service.loops import LoopDraft, create_loop
from signoff.service.requests import RequestDraft, cancel_request, create_requests
from signoff.store.migrate import upgrade
from signoff.store.tables import events, requests, timers

BATCH = 1000
LEAD = 2.0  # seconds from setting the deadlines to the first of them (plus 1 s per 2,000)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


async def make_requests(ctx: Context, count: int, timeout: int) -> list[str]:
    loop = await create_loop(ctx, SYSTEM, LoopDraft(name=f"bench-{time.time_ns()}"))
    ids: list[str] = []
    for start in range(0, count, BATCH):
        drafts = [
            RequestDraft(content=f"refund #{i}", title=f"Refund {i}", timeout_seconds=timeout)
            for i in range(start, min(start + BATCH, count))
        ]
        ids += [r.id for r in await create_requests(ctx, SYSTEM, loop.id, drafts, batch=True)]
    return ids


async def set_deadlines(
    ctx: Context, ids: list[str], first: datetime, spread: float
) -> dict[str, datetime]:
    step = spread / max(len(ids) - 1, 1) if spread else 0.0
    deadlines = {rid: first + timedelta(seconds=i * step) for i, rid in enumerate(ids)}
    async with ctx.db.write() as conn:
        rows = [{"rid": rid, "at": at} for rid, at in deadlines.items()]
        await conn.execute(
            requests.update()
            .where(requests.c.id == sa.bindparam("rid"))
            .values(deadline_at=sa.bindparam("at")),
            rows,
        )
        await conn.execute(
            timers.update()
            .where(timers.c.request_id == sa.bindparam("rid"))
            .values(due_at=sa.bindparam("at")),
            rows,
        )
    return deadlines


async def fire(settings: Settings, count: int, spread: float) -> dict[str, Any]:
    ctx = build_context(settings, "http://bench")
    ids = await make_requests(ctx, count, timeout=3600)
    fired: dict[str, float] = {}  # request id -> wall time of its publish (after commit)
    publish = ctx.notifier.publish

    def record(request_id: str) -> None:
        fired.setdefault(request_id, time.time())
        publish(request_id)

    ctx.notifier.publish = record  # type: ignore[method-assign]
    async with Runtime(ctx, settings).running(workers=True):
        await settle(ctx, settings)
        # Rewriting every deadline takes a while on PostgreSQL (and leaves a dead copy of each
        # row): the lead leaves time for it and for the vacuum after it, so no deadline is
        # past before the scheduler could know of it.
        first = datetime.now(UTC) + timedelta(seconds=LEAD + count / 2000)
        deadlines = await set_deadlines(ctx, ids, first, spread)
        await settle(ctx, settings)
        left = (first - datetime.now(UTC)).total_seconds()
        print(f"  deadlines set; the first is due in {left:.1f} s", flush=True)
        ctx.wake_scheduler(None)
        limit = time.time() + LEAD + spread + 600
        while len(fired) < count and time.time() < limit:
            await asyncio.sleep(0.05)
    missing = count - len(fired)
    lateness = [fired[r] - deadlines[r].timestamp() for r in fired]
    span = max(fired.values()) - first.timestamp()
    return {
        "count": count,
        "spread_seconds": spread,
        "missing": missing,
        "early": sum(1 for x in lateness if x < 0),
        "lateness_p50_ms": percentile(lateness, 50) * 1000,
        "lateness_p99_ms": percentile(lateness, 99) * 1000,
        "lateness_max_ms": max(lateness) * 1000,
        "firings_per_s": count / span if not spread else None,
        "by_window": windows(lateness_by_deadline(fired, deadlines), first.timestamp()),
    }


async def settle(ctx: Context, settings: Settings) -> None:
    """Bring the database to the state of a service that has had these requests for a while:
    the sealer has chained every `request.created` event, and on PostgreSQL the tables are
    vacuumed and analyzed (as autovacuum would have done long before their deadlines)."""
    started = time.perf_counter()
    unsealed = sa.select(sa.func.count()).select_from(events).where(events.c.seq.is_(None))
    while True:
        async with ctx.db.read() as conn:
            left = (await conn.execute(unsealed)).scalar_one()
        if not left:
            break
        await asyncio.sleep(0.5)
    if not ctx.db.is_sqlite:
        url = settings.resolved_database_url().replace("+psycopg", "")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    print(f"  settled in {time.perf_counter() - started:.1f} s", flush=True)


def lateness_by_deadline(
    fired: dict[str, float], deadlines: dict[str, datetime]
) -> list[tuple[float, float]]:
    return sorted((deadlines[r].timestamp(), fired[r] - deadlines[r].timestamp()) for r in fired)


def windows(pairs: list[tuple[float, float]], start: float, width: float = 20.0) -> list[Any]:
    """p50/p99 lateness of the deadlines in each `width`-second window: where it fell behind."""
    found: dict[int, list[float]] = {}
    for due, late in pairs:
        found.setdefault(int((due - start) // width), []).append(late)
    return [
        {
            "from_s": n * width,
            "count": len(lates),
            "p50_ms": round(percentile(lates, 50) * 1000, 1),
            "p99_ms": round(percentile(lates, 99) * 1000, 1),
        }
        for n, lates in sorted(found.items())
    ]


async def cancels(settings: Settings, count: int) -> dict[str, Any]:
    ctx = build_context(settings, "http://bench")
    try:
        ids = await make_requests(ctx, count, timeout=3600)
        queue = list(ids)

        async def worker() -> None:
            while queue:
                await cancel_request(ctx, SYSTEM, queue.pop(), "bench")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(16)))
        took = time.perf_counter() - started
    finally:
        await ctx.db.dispose()
    return {"count": count, "cancels_per_s": count / took}


def databases(args: argparse.Namespace, root: Path) -> list[tuple[str, str]]:
    found = [] if args.only == "postgresql" else [("sqlite", f"sqlite:///{root / 'signoff.db'}")]
    if args.postgres_url and args.only != "sqlite":
        name = f"signoff_bench_sched_{os.getpid()}"
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        found.append(("postgresql", str(sa.engine.make_url(args.postgres_url).set(database=name))))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--spread", type=float, default=0.0, help="seconds the deadlines spread over"
    )
    parser.add_argument(
        "--baseline-count", type=int, default=2000, help="cancels timed for the baseline rate"
    )
    parser.add_argument("--postgres-url", default=os.environ.get("SIGNOFF_BENCH_POSTGRES_URL"))
    parser.add_argument(
        "--only", choices=["sqlite", "postgresql"], help="run on one database (default: both)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="signoff-bench-sched-") as tmp:
        for kind, url in databases(args, Path(tmp)):
            upgrade(url)
            settings = Settings(data_dir=Path(tmp), database_url=url)
            print(f"{kind}: {args.count} deadlines, spread over {args.spread:g} s …", flush=True)
            timed = asyncio.run(fire(settings, args.count, args.spread))
            base = asyncio.run(cancels(settings, min(args.count, args.baseline_count)))
            ratio = (
                timed["firings_per_s"] / base["cancels_per_s"] if timed["firings_per_s"] else None
            )
            results[kind] = {"scheduler": timed, "baseline_cancels": base, "ratio": ratio}
            print(json.dumps(results[kind], indent=2), flush=True)
            if kind == "postgresql":
                with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                    name = sa.engine.make_url(url).database
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"scheduler-{int(time.time())}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
