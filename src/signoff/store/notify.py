"""PostgreSQL LISTEN/NOTIFY: tells every replica that a request has changed.

The NOTIFY is sent inside the deciding transaction, so PostgreSQL delivers it only if (and
right after) that transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

import psycopg
import sqlalchemy as sa

from .db import Conn

CHANNEL = "signoff_requests"
FEED_CHANNEL = "signoff_events"
OUTBOX_CHANNEL = "signoff_outbox"
TIMERS_CHANNEL = "signoff_timers"
log = logging.getLogger(__name__)


async def notify_requests_changed(conn: Conn, request_ids: Collection[str]) -> None:
    """One notification per request, sent by one statement: a scheduler batch or a batch
    create changes hundreds of requests, and a round trip each was half the batch's time."""
    if request_ids:
        await conn.execute(
            sa.text("SELECT pg_notify(:channel, id) FROM unnest(CAST(:ids AS text[])) AS id"),
            {"channel": CHANNEL, "ids": sorted(request_ids)},
        )


async def notify_messages_queued(conn: Conn) -> None:
    await conn.execute(sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, "")))


async def notify_timers_added(conn: Conn, earliest: datetime) -> None:
    """New timers, the earliest due at `earliest` (ISO 8601): schedulers may wake sooner."""
    await conn.execute(sa.select(sa.func.pg_notify(TIMERS_CHANNEL, earliest.isoformat())))


async def notify_events_sealed(conn: Conn) -> None:
    await conn.execute(sa.select(sa.func.pg_notify(FEED_CHANNEL, "")))


async def listen(
    dsn: str,
    handlers: Mapping[str, Callable[[str], None]],
    on_reconnect: Callable[[], None],
    ready: asyncio.Event,
) -> None:
    """Call `handlers[channel](payload)` for every notification until cancelled; reconnects
    after errors, then calls `on_reconnect()`: what was sent while disconnected is lost."""
    first = True
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                for channel in handlers:
                    await conn.execute(f"LISTEN {channel}")
                if not first:
                    on_reconnect()
                first = False
                ready.set()
                async for note in conn.notifies():
                    handlers[note.channel](note.payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("lost the LISTEN connection; reconnecting in 1 s")
            await asyncio.sleep(1)  # a cancel here ends the listener, as it should
