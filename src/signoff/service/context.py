"""What every use case needs, and the one way a use case writes: `transaction(ctx)`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..domain.model import NewEvent, Request
from ..store import events as event_store
from ..store.db import Conn, Database
from ..store.notify import (
    notify_events_sealed,
    notify_messages_queued,
    notify_requests_changed,
    notify_timers_added,
)
from .notifications import queue_notifications
from .notifier import Notifier
from .outbox import fan_out

if TYPE_CHECKING:
    from .watch import EventWatcher

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
    # On SQLite, what wakes this process for other processes' writes (service/watch.py).
    watcher: EventWatcher | None = None
    # Set by the dispatcher when it runs in this process, so that it sends at once.
    wake_dispatcher: Callable[[], None] = lambda: None
    # How outgoing URLs are checked (SSRF); app.py wires delivery/ssrf.py in.
    check_url: Callable[[str, str], Awaitable[None]] | None = None
    # Set by the scheduler when it runs in this process: called with the due time of new timers
    # (None: look again now, e.g. after a test moved the clock).
    wake_scheduler: Callable[[datetime | None], None] = lambda _: None
    # Whether mail can be sent (SIGNOFF_SMTP_HOST is set): email notifications are queued only then.
    email_enabled: bool = False


@dataclass
class Tx:
    """One write transaction: the connection, its time, and what to announce once committed."""

    conn: Conn
    now: datetime
    events: list[NewEvent] = field(default_factory=list)
    changed_requests: set[str] = field(default_factory=set)
    wake: bool = False  # set when the transaction made messages due without writing events
    next_timer: datetime | None = None  # the earliest timer this transaction wrote

    def timers_added(self, due_at: datetime) -> None:
        if self.next_timer is None or due_at < self.next_timer:
            self.next_timer = due_at

    def record(
        self,
        type_: str,
        actor: dict[str, Any],
        data: dict[str, Any],
        *,
        request_id: str | None = None,
        loop_id: str | None = None,
        request: Request | None = None,
        notify: Sequence[str] = (),
    ) -> None:
        """Write an event with this transaction; pass `request` for an event about one, and
        `notify` (user ids) to tell those people by mail or chat (service/notifications.py)."""
        if request is None:
            event = NewEvent(type_, actor, data, request_id, loop_id)
        else:
            event = NewEvent(
                type_,
                actor,
                data,
                request.id,
                request.loop_id,
                callback=request.callback,
                callback_known=True,
            )
        if notify:
            event.extra["notify"] = list(dict.fromkeys(notify))
        self.events.append(event)


@asynccontextmanager
async def transaction(ctx: Context) -> AsyncIterator[Tx]:
    """Run a use case's writes, its events and its notifications as one transaction."""
    ids: list[str] = []
    try:
        async with ctx.db.write() as conn:
            tx = Tx(conn, ctx.clock())
            yield tx
            # Writers are serialized on SQLite already: linking the chain as the events are
            # written costs no extra waiting. On PostgreSQL the Sealer links them after commit.
            ids = await event_store.insert_events(conn, tx.events, tx.now, sealed=ctx.db.is_sqlite)
            if ctx.watcher is not None:
                ctx.watcher.expect(ids)  # announced below; the watcher must not do it again
            written = list(zip(ids, tx.events, strict=True))
            queued = await fan_out(conn, tx.now, written)
            queued += await queue_notifications(
                conn, tx.now, written, public_url=ctx.public_url, email=ctx.email_enabled
            )
            if not ctx.db.is_sqlite:
                await notify_requests_changed(conn, tx.changed_requests)
                if queued or tx.wake:
                    await notify_messages_queued(conn)  # `signoff worker`s elsewhere send at once
                if tx.next_timer is not None:
                    await notify_timers_added(conn, tx.next_timer)  # schedulers elsewhere look
    except BaseException:
        if ctx.watcher is not None:
            ctx.watcher.forget(ids)
        raise
    for request_id in tx.changed_requests:
        ctx.notifier.publish(request_id)
    if queued or tx.wake:
        ctx.wake_dispatcher()
    if tx.next_timer is not None:
        ctx.wake_scheduler(tx.next_timer)
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
