"""`signoff audit verify` on a real event log: intact, then tampered with directly in SQL.

And on PostgreSQL, where writers insert unsealed events and sealers link them afterwards: many
writers on two replicas at once still end up in one gap-free chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from signoff.app import build_context
from signoff.cli import main
from signoff.config import Settings
from signoff.domain.model import SYSTEM, Choice, Principal, Role, UserRole
from signoff.domain.voting import Ballot
from signoff.service import loops, requests, users, votes
from signoff.service.context import Context, Sealer, seal
from signoff.service.events import verify_chain
from signoff.store.db import sync_url
from signoff.store.events import list_request_events

AT = 5  # the row the tampering tests touch: one in the middle of the chain


async def _reviewers(ctx: Context, *names: str) -> list[Principal]:
    found = []
    for name in names:
        user = await users.create_user(
            ctx, SYSTEM, f"{name}@example.com", name, UserRole.reviewer, None
        )
        key = await users.create_key(ctx, SYSTEM, name, Role.reviewer, user.id)
        found.append(await users.authenticate(ctx, key.secret))
    return found


async def _write_history(settings: Settings) -> None:
    """Some ordinary history: people, a loop, requests, votes, a decision, a cancel."""
    ctx = build_context(settings, "http://testserver")
    try:
        ann, bob = await _reviewers(ctx, "ann", "bob")
        draft = loops.LoopDraft("refunds", reviewers=(ann.user_id or "", bob.user_id or ""))
        loop = await loops.create_loop(ctx, SYSTEM, draft)
        made = await requests.create_requests(
            ctx,
            SYSTEM,
            loop.id,
            [requests.RequestDraft(f"Refund ${n}", required_approvals=2) for n in (10, 20, 30)],
            batch=True,
        )
        await votes.vote(ctx, ann, made[0].id, Ballot(Choice.approve))
        await votes.vote(ctx, bob, made[0].id, Ballot(Choice.approve, feedback="ok"))
        await votes.vote(ctx, ann, made[1].id, Ballot(Choice.reject, feedback="too much"))
        await requests.cancel_request(ctx, SYSTEM, made[2].id, "duplicate")
        if not ctx.db.is_sqlite:
            await seal(ctx)
    finally:
        await ctx.db.dispose()


@pytest.fixture
def history(settings: Settings) -> Iterator[sa.Engine]:
    """A database with a sealed history, and a plain engine to tamper with it."""
    asyncio.run(_write_history(settings))
    engine = sa.create_engine(sync_url(settings.resolved_database_url()), poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def _rows(engine: sa.Engine) -> dict[int, sa.Row[tuple[str, str]]]:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT seq, id, hash FROM events ORDER BY seq"))
        return {row.seq: row for row in found}


def _verify(settings: Settings) -> Result:
    env = {
        "SIGNOFF_DATABASE_URL": settings.resolved_database_url(),
        "SIGNOFF_DATA_DIR": str(settings.data_dir),
    }
    return CliRunner().invoke(main, ["audit", "verify"], env=env, catch_exceptions=False)


def test_an_intact_chain_verifies(settings: Settings, history: sa.Engine) -> None:
    rows = _rows(history)
    head = max(rows)
    assert list(rows) == list(range(1, head + 1)) and head > AT + 1
    result = _verify(settings)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"ok: {head} events, chain intact",
        f"head: #{head} {rows[head].hash}",
    ]
    assert result.stderr == ""


def _edit(conn: sa.Connection) -> None:
    forged = json.dumps({"request_id": "req_x", "decision": "approved"})
    conn.execute(sa.text("UPDATE events SET data = :d WHERE seq = :n"), {"d": forged, "n": AT})


def _delete(conn: sa.Connection) -> None:
    conn.execute(sa.text("DELETE FROM events WHERE seq = :n"), {"n": AT})


def _swap(conn: sa.Connection) -> None:
    # Through a free value, because `seq` is unique.
    for old, new in ((AT, -1), (AT + 1, AT), (-1, AT + 1)):
        conn.execute(
            sa.text("UPDATE events SET seq = :new WHERE seq = :old"), {"old": old, "new": new}
        )


@pytest.mark.parametrize(
    ("tamper", "broken_at", "reported_row", "says"),
    [
        (_edit, AT, AT, "the row was edited"),
        (_delete, AT + 1, AT + 1, f"expected event #{AT} here but found #{AT + 1}"),
        (_swap, AT, AT + 1, "prev_hash does not match"),
    ],
    ids=["edited", "deleted", "swapped"],
)
def test_tampering_is_named_at_the_first_broken_link(
    settings: Settings,
    history: sa.Engine,
    tamper: object,
    broken_at: int,
    reported_row: int,
    says: str,
) -> None:
    before = _rows(history)
    with history.begin() as conn:
        tamper(conn)  # type: ignore[operator]
    result = _verify(settings)
    assert result.exit_code == 1, result.output
    # The row found at the broken link: for a swap, the one moved up into its place.
    broken_id = before[reported_row].id
    assert result.stderr.splitlines() == [
        f"BROKEN at event #{broken_at} ({broken_id}): {_reason(result.stderr)}"
    ]
    assert says in result.stderr
    intact = AT - 1  # in every case the link from #AT - 1 to what follows it is the broken one
    assert result.stdout.splitlines() == [
        f"{intact} events before it are intact",
        f"head: #{intact} {before[intact].hash}",
    ]


def _reason(stderr: str) -> str:
    return stderr.split("): ", 1)[1].strip()


# Concurrent writers, concurrent sealers


async def _busy_replica(ctx: Context, loop_id: str, voter: Principal, n: int) -> None:
    """One writer: create a request, then decide it, `n` times over, as fast as it can."""
    for i in range(n):
        [made] = await requests.create_requests(
            ctx, SYSTEM, loop_id, [requests.RequestDraft(f"job {i}")], batch=False
        )
        await votes.vote(ctx, voter, made.id, Ballot(Choice.approve))


@contextlib.asynccontextmanager
async def _replica(settings: Settings, name: str) -> AsyncIterator[Context]:
    """A context of its own, as another process would have, with its own sealer on PostgreSQL."""
    ctx = build_context(settings, f"http://{name}")
    if not ctx.db.is_sqlite:
        ctx.sealer = Sealer(ctx, interval=0.05)
        ctx.sealer.start()
    try:
        yield ctx
    finally:
        if ctx.sealer:
            await ctx.sealer.stop()
        await ctx.db.dispose()


async def _many_writers(settings: Settings) -> None:
    async with _replica(settings, "replica-a") as a, _replica(settings, "replica-b") as b:
        reviewers = await _reviewers(a, "ann", "bob", "cat", "dan")
        ids = tuple(r.user_id or "" for r in reviewers)
        loop = await loops.create_loop(a, SYSTEM, loops.LoopDraft("busy", reviewers=ids))
        # Eight writers, four on each replica, while both sealers run, and more sealing calls.
        await asyncio.gather(
            *(_busy_replica(ctx, loop.id, reviewer, 6) for ctx in (a, b) for reviewer in reviewers),
            *(seal(ctx) for ctx in (a, b, a, b) if not ctx.db.is_sqlite),
        )
        await asyncio.gather(*(seal(ctx) for ctx in (a, b) if not ctx.db.is_sqlite))
        verdict, unsealed = await verify_chain(a)
        assert verdict.ok, verdict
        assert unsealed == 0
        async with a.db.read() as conn:
            seqs = (await conn.execute(sa.text("SELECT seq FROM events ORDER BY seq"))).scalars()
            assert list(seqs) == list(range(1, verdict.checked + 1))
            # 8 writers x 6 requests x (created, vote, completed), and the set-up before.
            assert verdict.checked >= 8 * 6 * 3
            # A request's events are sealed in the order they happened.
            request_ids = (await conn.execute(sa.text("SELECT id FROM requests"))).scalars().all()
            for request_id in request_ids:
                events = await list_request_events(conn, request_id)
                assert [e.type for e in events] == [
                    "request.created",
                    "request.vote",
                    "request.completed",
                ]
                order = [e.seq or 0 for e in events]
                assert order == sorted(order), events


def test_concurrent_writers_are_sealed_into_one_gap_free_chain(settings: Settings) -> None:
    asyncio.run(_many_writers(settings))
