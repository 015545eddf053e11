"""Webhook endpoints and the server's own secrets (and the few plain values kept beside them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..domain.model import Endpoint
from ._rows import utc, utc_or_none
from .db import Conn
from .tables import server_secrets, webhook_endpoints

_LIVE = webhook_endpoints.c.deleted_at.is_(None)
_PUBLIC = [
    c for c in webhook_endpoints.c if c.name not in ("secret", "previous_secret", "deleted_at")
]


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        description=row.description,
        events=tuple(row.events) if row.events is not None else None,
        loop_id=row.loop_id,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=utc_or_none(row.failing_since),
        previous_secret_until=utc_or_none(row.previous_secret_until),
        created_by_key_id=row.created_by_key_id,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


async def insert_endpoint(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(webhook_endpoints.insert().values(**values))


async def update_endpoint(conn: Conn, endpoint_id: str, values: dict[str, Any]) -> None:
    await conn.execute(
        webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(**values)
    )


async def clear_failing(conn: Conn, endpoint_id: str) -> None:
    """Forget an endpoint's failures; writes (and locks) only when there were some."""
    await conn.execute(
        webhook_endpoints.update()
        .where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.failing_since.is_not(None)
        )
        .values(failing_since=None)
    )


async def get_endpoint(
    conn: Conn, endpoint_id: str, *, for_update: bool = False
) -> Endpoint | None:
    query = sa.select(*_PUBLIC).where(webhook_endpoints.c.id == endpoint_id, _LIVE)
    if for_update:
        # NO KEY UPDATE, as an UPDATE takes: it does not wait for (nor block) the inserts of
        # messages that refer to the endpoint.
        query = query.with_for_update(key_share=True)
    row = (await conn.execute(query)).first()
    return _endpoint(row) if row else None


async def lock_endpoints(conn: Conn, endpoint_ids: set[str]) -> None:
    """Lock endpoint rows, in id order, before touching their messages.

    Whoever changes messages of an endpoint in bulk (the settler, disabling, deleting,
    recovering) holds the endpoint's row first, so two such transactions on PostgreSQL queue
    up instead of each holding a row the other waits for (a deadlock).
    """
    if endpoint_ids:
        await conn.execute(
            sa.select(webhook_endpoints.c.id)
            .where(webhook_endpoints.c.id.in_(sorted(endpoint_ids)))
            .order_by(webhook_endpoints.c.id)
            .with_for_update(key_share=True)
        )


async def list_endpoints(
    conn: Conn, after: str | None, limit: int, created_by: str | None = None
) -> list[Endpoint]:
    query = sa.select(*_PUBLIC).where(_LIVE).order_by(webhook_endpoints.c.id).limit(limit)
    if created_by is not None:
        query = query.where(webhook_endpoints.c.created_by_key_id == created_by)
    if after:
        query = query.where(webhook_endpoints.c.id > after)
    return [_endpoint(r) for r in await conn.execute(query)]


async def enabled_endpoints(conn: Conn) -> list[Endpoint]:
    query = sa.select(*_PUBLIC).where(_LIVE, webhook_endpoints.c.enabled.is_(True))
    return [_endpoint(r) for r in await conn.execute(query)]


async def current_url(conn: Conn, endpoint_id: str) -> str | None:
    query = sa.select(webhook_endpoints.c.url).where(webhook_endpoints.c.id == endpoint_id)
    return (await conn.execute(query)).scalar_one_or_none()


async def signing_secrets(conn: Conn, endpoint_id: str, now: datetime) -> list[str]:
    """The secrets to sign with now: the current one, and the previous during its grace."""
    row = (
        await conn.execute(
            sa.select(
                webhook_endpoints.c.secret,
                webhook_endpoints.c.previous_secret,
                webhook_endpoints.c.previous_secret_until,
            ).where(webhook_endpoints.c.id == endpoint_id)
        )
    ).first()
    if row is None:
        return []
    found = [row.secret]
    if row.previous_secret and row.previous_secret_until and utc(row.previous_secret_until) > now:
        found.append(row.previous_secret)
    return found


async def server_secret(conn: Conn, name: str, make: str, now: datetime) -> str:
    """The server secret called `name`, created with value `make` the first time it is asked."""
    query = sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
    value = (await conn.execute(query)).scalar_one_or_none()
    if value is not None:
        return str(value)
    try:
        async with conn.begin_nested():
            await conn.execute(
                server_secrets.insert().values(name=name, value=make, created_at=now)
            )
        return make
    except IntegrityError:  # another process made it first
        return str((await conn.execute(query)).scalar_one())


async def read_server_secret(conn: Conn, name: str) -> str | None:
    """The server secret called `name`, if it was ever made (reads only)."""
    query = sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
    value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else str(value)


async def put_server_value(conn: Conn, name: str, value: str, now: datetime) -> None:
    """Set the value called `name`, made or replaced: unlike a secret, it may change."""
    row = server_secrets.c.name == name
    replaced = await conn.execute(server_secrets.update().where(row).values(value=value))
    if replaced.rowcount:
        return
    try:
        async with conn.begin_nested():
            await conn.execute(
                server_secrets.insert().values(name=name, value=value, created_at=now)
            )
    except IntegrityError:  # another process made it first: the last one to start wins
        await conn.execute(server_secrets.update().where(row).values(value=value))
