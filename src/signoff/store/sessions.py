"""Web sessions and sign-in attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.model import User
from ._rows import utc
from .db import Conn
from .tables import login_attempts, users, web_sessions
from .users import _user


@dataclass(frozen=True)
class SessionRow:
    id: str
    user: User
    csrf_secret: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


async def insert_session(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(web_sessions.insert().values(**values))


async def find_session(conn: Conn, token_hash: str) -> SessionRow | None:
    """The session with this token hash and its user, in one query."""
    query = (
        sa.select(
            web_sessions.c.id.label("session_id"),
            web_sessions.c.csrf_secret,
            web_sessions.c.created_at.label("session_created_at"),
            web_sessions.c.last_seen_at,
            web_sessions.c.expires_at,
            users,
        )
        .select_from(web_sessions.join(users, users.c.id == web_sessions.c.user_id))
        .where(web_sessions.c.token_hash == token_hash)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return SessionRow(
        id=row.session_id,
        user=_user(row),
        csrf_secret=row.csrf_secret,
        created_at=utc(row.session_created_at),
        last_seen_at=utc(row.last_seen_at),
        expires_at=utc(row.expires_at),
    )


async def touch_session(conn: Conn, session_id: str, now: datetime) -> None:
    await conn.execute(
        web_sessions.update().where(web_sessions.c.id == session_id).values(last_seen_at=now)
    )


async def delete_session(conn: Conn, token_hash: str) -> None:
    await conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == token_hash))


async def delete_user_sessions(conn: Conn, user_id: str) -> int:
    result = await conn.execute(web_sessions.delete().where(web_sessions.c.user_id == user_id))
    return result.rowcount


async def delete_expired_sessions(conn: Conn, now: datetime) -> None:
    await conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))


async def get_password_hash(conn: Conn, email: str) -> tuple[str, str | None, bool] | None:
    """(user id, password hash, active) of the user with this email."""
    query = sa.select(users.c.id, users.c.password_hash, users.c.active).where(
        users.c.email == email
    )
    row = (await conn.execute(query)).first()
    return (row.id, row.password_hash, bool(row.active)) if row else None


async def set_password_hash(
    conn: Conn, user_id: str, password_hash: str | None, now: datetime
) -> bool:
    result = await conn.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, updated_at=now)
    )
    return result.rowcount == 1


async def record_attempt(
    conn: Conn, email: str, address: str, succeeded: bool, now: datetime
) -> None:
    await conn.execute(
        login_attempts.insert().values(
            email=email, address=address, succeeded=succeeded, attempted_at=now
        )
    )


async def failures_since(
    conn: Conn, since: datetime, *, email: str | None = None, address: str | None = None
) -> tuple[int, datetime | None]:
    """How many sign-ins failed since `since` for this email or address, and the oldest."""
    query = sa.select(sa.func.count(), sa.func.min(login_attempts.c.attempted_at)).where(
        login_attempts.c.attempted_at >= since, login_attempts.c.succeeded.is_(False)
    )
    if email is not None:
        query = query.where(login_attempts.c.email == email)
    if address is not None:
        query = query.where(login_attempts.c.address == address)
    row: Any = (await conn.execute(query)).one()
    return int(row[0]), utc(row[1]) if row[1] is not None else None


async def forget_attempts(conn: Conn, before: datetime) -> None:
    await conn.execute(login_attempts.delete().where(login_attempts.c.attempted_at < before))
