"""People and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.model import Absence, ApiKey, Role, User, UserRole
from ._rows import utc, utc_or_none
from .db import Conn
from .tables import absences, api_keys, users

# A user with their absence, if they set one.
_USERS = sa.select(
    users,
    absences.c.away_from,
    absences.c.away_until,
    absences.c.delegate_id,
).select_from(users.outerjoin(absences, absences.c.user_id == users.c.id))


def _user(row: Any) -> User:
    away = None
    if getattr(row, "away_from", None) is not None:
        away = Absence(row.id, utc(row.away_from), utc_or_none(row.away_until), row.delegate_id)
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        role=UserRole(row.role),
        active=row.active,
        has_password=row.password_hash is not None,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        notify=row.notify,
        away=away,
    )


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        role=Role(row.role),
        user_id=row.user_id,
        created_at=utc(row.created_at),
        revoked_at=utc_or_none(row.revoked_at),
    )


async def insert_user(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(users.insert().values(**values))


async def update_user(conn: Conn, user_id: str, values: dict[str, Any]) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(**values))


async def get_user(conn: Conn, user_id: str) -> User | None:
    row = (await conn.execute(_USERS.where(users.c.id == user_id))).first()
    return _user(row) if row else None


async def get_user_by_email(conn: Conn, email: str) -> User | None:
    row = (await conn.execute(_USERS.where(users.c.email == email))).first()
    return _user(row) if row else None


async def existing_user_ids(conn: Conn, ids: list[str]) -> set[str]:
    rows = await conn.execute(sa.select(users.c.id).where(users.c.id.in_(ids)))
    return {r.id for r in rows}


async def users_by_id(conn: Conn, ids: list[str]) -> dict[str, User]:
    if not ids:
        return {}
    rows = await conn.execute(sa.select(users).where(users.c.id.in_(ids)))
    return {r.id: _user(r) for r in rows}


async def list_users(conn: Conn, after: str | None, limit: int) -> list[User]:
    query = _USERS.order_by(users.c.id).limit(limit)
    if after:
        query = query.where(users.c.id > after)
    return [_user(r) for r in await conn.execute(query)]


async def insert_key(conn: Conn, values: dict[str, Any]) -> None:
    await conn.execute(api_keys.insert().values(**values))


async def get_key(conn: Conn, key_id: str) -> ApiKey | None:
    row = (await conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id))).first()
    return _key(row) if row else None


async def list_keys(conn: Conn, after: str | None, limit: int) -> list[ApiKey]:
    query = sa.select(api_keys).order_by(api_keys.c.id).limit(limit)
    if after:
        query = query.where(api_keys.c.id > after)
    return [_key(r) for r in await conn.execute(query)]


async def count_keys(conn: Conn) -> int:
    query = sa.select(sa.func.count()).select_from(api_keys)
    return int((await conn.execute(query)).scalar_one())


async def revoke_key(conn: Conn, key_id: str, now: datetime) -> bool:
    result = await conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class KeyForAuth:
    key: ApiKey
    secret_hash: str
    user_email: str | None
    user_active: bool


async def find_key_for_auth(conn: Conn, prefix: str) -> KeyForAuth | None:
    """The key with this prefix, its stored secret hash and its user's standing."""
    query = (
        sa.select(api_keys, users.c.email.label("user_email"), users.c.active.label("user_active"))
        .select_from(api_keys.outerjoin(users, users.c.id == api_keys.c.user_id))
        .where(api_keys.c.prefix == prefix)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    active = row.user_active if row.user_id else True
    return KeyForAuth(_key(row), row.secret_hash, row.user_email, bool(active))


async def count_admins_with_password(conn: Conn) -> int:
    """Admins who can sign in to the web app."""
    query = (
        sa.select(sa.func.count())
        .select_from(users)
        .where(
            users.c.role == "admin",
            users.c.active.is_(True),
            users.c.password_hash.is_not(None),
        )
    )
    return int((await conn.execute(query)).scalar_one())


async def lock_active_admins(conn: Conn) -> list[str]:
    """The ids of the active admins, their rows locked until the transaction ends (FOR UPDATE
    is left out on SQLite, whose one writer is exclusive anyway)."""
    query = (
        sa.select(users.c.id)
        .where(users.c.role == "admin", users.c.active.is_(True))
        .order_by(users.c.id)
        .with_for_update()
    )
    return [r.id for r in await conn.execute(query)]


async def lock_bootstrap(conn: Conn) -> None:
    """PostgreSQL: serialize first-start set-up between replicas until this transaction ends."""
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x5160FE)))


async def find_password_hash(conn: Conn, user_id: str) -> str | None:
    query = sa.select(users.c.password_hash).where(users.c.id == user_id)
    value = (await conn.execute(query)).scalar_one_or_none()
    return None if value is None else str(value)


async def get_users(conn: Conn, ids: list[str]) -> list[User]:
    rows = await conn.execute(sa.select(users).where(users.c.id.in_(ids)).order_by(users.c.id))
    return [_user(r) for r in rows]


async def active_emails(conn: Conn, ids: list[str]) -> dict[str, str]:
    """The emails of those of these users who are active."""
    query = sa.select(users.c.id, users.c.email).where(users.c.id.in_(ids), users.c.active)
    return {r.id: r.email for r in await conn.execute(query)}
