"""The outbox: messages written with their events, claimed by dispatchers, and their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.model import Attempt, Message, MessageStatus
from ._rows import utc, utc_or_none
from .db import Conn
from .tables import delivery_attempts, messages, requests

PENDING = MessageStatus.pending.value


def _message(row: Any) -> Message:
    return Message(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        endpoint_id=row.endpoint_id,
        request_id=row.request_id,
        url=row.url,
        payload=row.payload,
        status=MessageStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=utc(row.next_attempt_at),
        last_attempt_at=utc_or_none(row.last_attempt_at),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=utc(row.created_at),
        delivered_at=utc_or_none(row.delivered_at),
        channel=row.channel,
    )


async def insert_messages(conn: Conn, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(messages.insert(), rows)


async def claim_due(
    conn: Conn, now: datetime, lease_until: datetime, limit: int, *, skip_locked: bool
) -> list[Message]:
    """Take up to `limit` due messages for this dispatcher until `lease_until`.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets any number of dispatchers claim side by side
    without waiting on each other or taking the same row; SQLite's writer is exclusive anyway.
    The lease is what keeps a message from being sent twice at once: nobody else claims it
    before `lease_until`, which outlasts the send timeout. A dispatcher that dies mid-send
    leaves the lease to run out, and the message is sent again (at least once).
    """
    due = (
        sa.select(messages.c.id)
        .where(
            messages.c.status == PENDING,
            messages.c.next_attempt_at <= now,
            sa.or_(messages.c.locked_until.is_(None), messages.c.locked_until <= now),
        )
        .order_by(messages.c.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    ids = [r.id for r in await conn.execute(due)]
    if not ids:
        return []
    await conn.execute(
        messages.update().where(messages.c.id.in_(ids)).values(locked_until=lease_until)
    )
    rows = await conn.execute(sa.select(messages).where(messages.c.id.in_(ids)))
    return [_message(r) for r in rows]


async def record_attempts(conn: Conn, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(delivery_attempts.insert(), rows)


async def settle(conn: Conn, message_id: str, values: dict[str, Any]) -> None:
    """Write a message's state after an attempt, and release its lease."""
    await conn.execute(
        messages.update().where(messages.c.id == message_id).values(locked_until=None, **values)
    )


async def settle_many(conn: Conn, settled: list[tuple[str, dict[str, Any]]]) -> None:
    """Write messages' states after their attempts and release their leases: `settled` holds
    (message id, values). Rows that set the same columns go as one executemany (pipelined
    on PostgreSQL), not one round trip each.
    """
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for message_id, values in settled:
        row = {f"new_{name}": value for name, value in values.items()}
        shapes.setdefault(tuple(sorted(values)), []).append({"message_id": message_id, **row})
    for names, rows in shapes.items():
        statement = (
            messages.update()
            .where(messages.c.id == sa.bindparam("message_id"))
            .values(locked_until=None, **{name: sa.bindparam(f"new_{name}") for name in names})
        )
        await conn.execute(statement, rows)


async def get_message(conn: Conn, message_id: str) -> Message | None:
    row = (await conn.execute(sa.select(messages).where(messages.c.id == message_id))).first()
    return _message(row) if row else None


async def list_messages(
    conn: Conn,
    *,
    endpoint_id: str | None = None,
    request_id: str | None = None,
    status: MessageStatus | None = None,
    before: str | None = None,
    limit: int = 50,
) -> list[Message]:
    query = sa.select(messages).order_by(messages.c.id.desc()).limit(limit)
    if endpoint_id:
        query = query.where(messages.c.endpoint_id == endpoint_id)
    if request_id:
        query = query.where(messages.c.request_id == request_id)
    if status:
        query = query.where(messages.c.status == status.value)
    if before:
        query = query.where(messages.c.id < before)
    return [_message(r) for r in await conn.execute(query)]


async def list_attempts(conn: Conn, message_id: str) -> list[Attempt]:
    rows = await conn.execute(
        sa.select(delivery_attempts)
        .where(delivery_attempts.c.message_id == message_id)
        .order_by(delivery_attempts.c.id)
    )
    return [
        Attempt(utc(r.attempted_at), r.latency_ms, r.status_code, r.response_excerpt, r.error)
        for r in rows
    ]


async def requeue(
    conn: Conn,
    now: datetime,
    *,
    message_id: str | None = None,
    endpoint_id: str | None = None,
    failed_since: datetime | None = None,
) -> int:
    """Make messages due again now: one message, or every failed one of an endpoint since T.

    Their attempt count starts again, so a redelivered message gets the whole retry schedule.
    """
    query = messages.update().values(
        status=PENDING, next_attempt_at=now, locked_until=None, attempts=0
    )
    if message_id:
        query = query.where(messages.c.id == message_id)
    if endpoint_id:
        query = query.where(messages.c.endpoint_id == endpoint_id)
    if failed_since is not None:
        query = query.where(
            messages.c.status == MessageStatus.failed.value, messages.c.created_at >= failed_since
        )
    return (await conn.execute(query)).rowcount


async def fail_pending_of_endpoint(conn: Conn, endpoint_id: str, reason: str) -> int:
    """When an endpoint is disabled, its waiting messages fail (they can be redelivered later)."""
    result = await conn.execute(
        messages.update()
        .where(messages.c.endpoint_id == endpoint_id, messages.c.status == PENDING)
        .values(status=MessageStatus.failed.value, last_error=reason, locked_until=None)
    )
    return result.rowcount


async def callback_auth(conn: Conn, request_id: str) -> dict[str, Any] | None:
    """A request callback's credentials: read only by the sender, right before it sends."""
    query = sa.select(requests.c.callback_auth).where(requests.c.id == request_id)
    value = (await conn.execute(query)).scalar_one_or_none()
    return value if isinstance(value, dict) else None
