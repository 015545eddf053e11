"""Idempotency keys: the first answer to a write, kept so that a replay gets it again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .db import Conn
from .tables import idempotency_keys as keys


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status_code: int | None  # None while the first call is still running
    body: bytes | None


async def claim(
    conn: Conn, principal: str, key: str, fingerprint: str, now: datetime
) -> Stored | None:
    """Take the key for a first call (None), or answer what is stored under it."""
    try:
        async with conn.begin_nested():
            await conn.execute(
                keys.insert().values(
                    principal=principal, key=key, fingerprint=fingerprint, created_at=now
                )
            )
        return None
    except IntegrityError:
        row = (
            await conn.execute(
                sa.select(keys).where(keys.c.principal == principal, keys.c.key == key)
            )
        ).one()
        return Stored(row.fingerprint, row.status_code, row.body)


async def record(conn: Conn, principal: str, key: str, status_code: int, body: bytes) -> None:
    await conn.execute(
        keys.update()
        .where(keys.c.principal == principal, keys.c.key == key)
        .values(status_code=status_code, body=body)
    )


async def release(conn: Conn, principal: str, key: str) -> None:
    await conn.execute(keys.delete().where(keys.c.principal == principal, keys.c.key == key))
