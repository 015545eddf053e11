"""What every use case needs, and the one way a use case writes: `transaction(ctx)`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain.model import NewEvent, Request
from ..store import events as event_store
from ..store.db import Conn, Database
from ..store.notify import (
    notify_events_sealed,
    notify_messages_queued,
    notify_request_changed,
)
from .notifier import Notifier
from .outbox import fan_out

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Limits:
    max_metadata_bytes: int = 16 * 1024
    max_batch: int = 1000
    max_wait_seconds: int = 300
    page_size: int = 50
    max_page_size: int = 500
    claim_lease_seconds: int = 600  # how long a claim on a request lasts unless renewed


@dataclass
class Context:
    """Plain values and parts wired once by app.py; every use case takes it first."""

    db: Database
    public_url: str = "http://127.0.0.1:8000"
    clock: Clock = system_clock
    limits: Limits = field(default_factory=Limits)
    notifier: Notifier = field(default_factory=Notifier)
    sealer: Sealer | None = None
    # Set by the dispatcher when it runs in this process, so that it sends at once.
    wake_dispatcher: Callable[[], None] = lambda: None
    # How outgoing URLs are checked (SSRF); app.py wires delivery/ssrf.py in.
    check_url: Callable[[str, str], Awaitable[None]] | None = None


@dataclass
class Tx:
    """One write transaction: the connection, its time, and what to announce once committed."""

    conn: Conn
    now: datetime
    events: list[NewEvent] = field(default_factory=list)
    changed_requests: set[str] = field(default_factory=set)
    wake: bool = False  # set when the transaction made messages due without writing events

    def record(
        self,
        type_: str,
        actor: dict[str, Any],
        data: dict[str, Any],
        *,
        request_id: str | None = None,
        loop_id: str | None = None,
        request: Request | None = None,
    ) -> None:
        """Write an event with this transaction; pass `request` for an event about one."""
        if request is None:
            self.events.append(NewEvent(type_, actor, data, request_id, loop_id))
        else:
            self.events.append(
                NewEvent(
                    type_,
                    actor,
                    data,
                    request.id,
                    request.loop_id,
                    callback=request.callback,
                    callback_known=True,
                )
            )


@asynccontextmanager
async def transaction(ctx: Context) -> AsyncIterator[Tx]:
    """Run a use case's writes, its events and its notifications as one transaction."""
    async with ctx.db.write() as conn:
        tx = Tx(conn, ctx.clock())
        yield tx
        # Writers are serialized on SQLite already: linking the chain as the events are written
        # costs no extra waiting. On PostgreSQL the Sealer links them after commit.
        ids = await event_store.insert_events(conn, tx.events, tx.now, sealed=ctx.db.is_sqlite)
        queued = await fan_out(conn, tx.now, list(zip(ids, tx.events, strict=True)))
        if not ctx.db.is_sqlite:
            for request_id in tx.changed_requests:
                await notify_request_changed(conn, request_id)
            if queued or tx.wake:
                await notify_messages_queued(conn)  # `signoff worker`s elsewhere send at once
    for request_id in tx.changed_requests:
        ctx.notifier.publish(request_id)
    if queued or tx.wake:
        ctx.wake_dispatcher()
    if tx.events and ctx.db.is_sqlite:
        ctx.notifier.publish_feed()
    if tx.events and not ctx.db.is_sqlite:
        if ctx.sealer is not None and ctx.sealer.running:
            ctx.sealer.poke()
        else:
            await seal(ctx)


async def seal(ctx: Context) -> int:
    sealed = 0
    while True:
        async with ctx.db.write() as conn:
            count = await event_store.seal_events(conn, lock=not ctx.db.is_sqlite)
            if count and not ctx.db.is_sqlite:
                await notify_events_sealed(conn)  # wakes the event streams of every replica
        sealed += count
        if count:
            ctx.notifier.publish_feed()
        if count < event_store.SEAL_BATCH:
            return sealed


class Sealer:
    """Links events into the chain soon after they commit (PostgreSQL); see audit/chain.py."""

    def __init__(self, ctx: Context, interval: float = 1.0) -> None:
        self._ctx = ctx
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="signoff-sealer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await seal(self._ctx)
            except Exception:
                log.exception("sealing events failed; trying again")
