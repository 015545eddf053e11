"""Use cases for people and API keys, and authentication of a bearer key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from ..domain.ids import new_id
from ..domain.model import SYSTEM, ApiKey, Principal, Role, User, UserRole
from ..domain.tokens import AccountTokenKind
from ..errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from ..store import links as link_store
from ..store import users as store
from .context import Context, Tx, transaction
from .passwords import hash_password
from .views import user_snapshot

KEY_PREFIX = "sk_"


def hash_secret(key: str) -> str:
    # API keys are 256 random bits: a fast hash is enough; argon2 is for passwords people choose.
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once


async def create_user(
    ctx: Context, actor: Principal, email: str, name: str, role: UserRole, password: str | None
) -> User:
    async with transaction(ctx) as tx:
        return await create_user_in(tx, actor, email, name, role, password)


async def create_user_in(
    tx: Tx, actor: Principal, email: str, name: str, role: UserRole, password: str | None
) -> User:
    """`create_user` inside a transaction the caller holds (an invite is made in it too)."""
    email = email.strip().lower()
    if await store.get_user_by_email(tx.conn, email):
        raise Conflict(f"a user with email {email} already exists")
    user_id = new_id("usr", tx.now)
    await store.insert_user(
        tx.conn,
        {
            "id": user_id,
            "email": email,
            "name": name,
            "role": role.value,
            "password_hash": hash_password(password) if password else None,
            "active": True,
            "created_at": tx.now,
            "updated_at": tx.now,
        },
    )
    user = await _get_user(tx.conn, user_id)
    tx.record("user.created", actor.actor(), user_snapshot(user))
    return user


async def _get_user(conn: Any, user_id: str) -> User:
    user = await store.get_user(conn, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id!r}")
    return user


async def update_user(
    ctx: Context, actor: Principal, user_id: str, changes: dict[str, Any]
) -> User:
    values = dict(changes)
    if "password" in values:
        password = values.pop("password")
        values["password_hash"] = hash_password(password) if password else None
    if "role" in values:
        values["role"] = UserRole(values["role"]).value
    if actor.user_id == user_id and (
        values.get("active") is False or values.get("role") == UserRole.reviewer.value
    ):
        raise Conflict("you cannot deactivate or demote yourself; ask another admin")
    if "notify" in values:
        values["notify"] = await _notify_setting(ctx, values["notify"])
    async with transaction(ctx) as tx:
        before = await _get_user(tx.conn, user_id)
        await _keep_an_admin(tx, before, values)
        await store.update_user(tx.conn, user_id, {**values, "updated_at": tx.now})
        if values.get("active") is False:
            # Sessions and keys check `active` each time; links and invites are revoked.
            await link_store.revoke_user_links(tx.conn, user_id, tx.now)
            await link_store.revoke_account_tokens(
                tx.conn, tx.now, kind=AccountTokenKind.invite, user_id=user_id
            )
        user = await _get_user(tx.conn, user_id)
        tx.record(
            "user.updated", actor.actor(), {**user_snapshot(user), "changed": sorted(changes)}
        )
    return user


async def _keep_an_admin(tx: Tx, user: User, values: dict[str, Any]) -> None:
    """Refuse to demote or deactivate the last active admin: the web app would have nobody left
    to manage it. The active admins' rows are locked first (PostgreSQL), so two admins demoting
    each other at once cannot both succeed."""
    role = values.get("role", user.role.value)
    leaves = values.get("active") is False or role != UserRole.admin.value
    if not (user.role is UserRole.admin and user.active and leaves):
        return
    others = [i for i in await store.lock_active_admins(tx.conn) if i != user.id]
    if not others:
        raise Conflict(f"{user.email} is the last active admin; make someone else an admin first")


async def _notify_setting(ctx: Context, notify: dict[str, Any] | None) -> dict[str, Any] | None:
    """A user's `notify`, checked: a chat URL is required for chat and must pass the SSRF check."""
    if notify is None:
        return None
    channel = notify["channel"]
    url = str(notify["url"]) if notify.get("url") else None
    if channel == "chat":
        if url is None:
            raise ValidationFailed.field("body.notify.url", "chat needs the incoming-webhook URL")
        if ctx.check_url is not None:
            await ctx.check_url(url, "body.notify.url")
        return {"channel": channel, "url": url}
    return {"channel": channel}


async def get_user(ctx: Context, user_id: str) -> User:
    async with ctx.db.read() as conn:
        return await _get_user(conn, user_id)


async def find_user_by_email(ctx: Context, email: str) -> User | None:
    async with ctx.db.read() as conn:
        return await store.get_user_by_email(conn, email.strip().lower())


async def list_users(ctx: Context, after: str | None, limit: int) -> list[User]:
    async with ctx.db.read() as conn:
        return await store.list_users(conn, after, limit)


async def create_key(
    ctx: Context, actor: Principal, name: str, role: Role, user_id: str | None
) -> CreatedKey:
    if role is Role.reviewer and not user_id:
        raise ValidationFailed.field("body.user_id", "a reviewer key must act for a user")
    async with transaction(ctx) as tx:
        if user_id:
            user = await store.get_user(tx.conn, user_id)
            if user is None:
                raise ValidationFailed.field("body.user_id", f"no user with id {user_id!r}")
            if role is Role.admin and user.role is not UserRole.admin:
                raise ValidationFailed.field("body.role", "an admin key needs an admin user")
        return await _insert_key(tx, actor, name, role, user_id)


async def _insert_key(
    tx: Tx, actor: Principal, name: str, role: Role, user_id: str | None
) -> CreatedKey:
    prefix, secret = _new_key()
    key_id = new_id("key", tx.now)
    await store.insert_key(
        tx.conn,
        {
            "id": key_id,
            "prefix": prefix,
            "secret_hash": hash_secret(secret),
            "name": name,
            "role": role.value,
            "user_id": user_id,
            "created_at": tx.now,
        },
    )
    key = await store.get_key(tx.conn, key_id)
    assert key is not None
    tx.record(
        "api_key.created",
        actor.actor(),
        {"id": key_id, "prefix": prefix, "name": name, "role": role.value, "user_id": user_id},
    )
    return CreatedKey(key, secret)


async def create_first_admin_key(ctx: Context) -> CreatedKey | None:
    """On the very first start only: the key an operator uses to set everything else up."""
    async with transaction(ctx) as tx:
        if not ctx.db.is_sqlite:
            await store.lock_bootstrap(tx.conn)  # two replicas starting at once make one key
        if await store.count_keys(tx.conn) > 0:
            return None
        return await _insert_key(tx, SYSTEM, "first admin key", Role.admin, None)


async def list_keys(ctx: Context, after: str | None, limit: int) -> list[ApiKey]:
    async with ctx.db.read() as conn:
        return await store.list_keys(conn, after, limit)


async def count_keys(ctx: Context) -> int:
    async with ctx.db.read() as conn:
        return await store.count_keys(conn)


async def revoke_key(ctx: Context, actor: Principal, key_id: str) -> ApiKey:
    async with transaction(ctx) as tx:
        key = await store.get_key(tx.conn, key_id)
        if key is None:
            raise NotFound(f"no API key with id {key_id!r}")
        if await store.revoke_key(tx.conn, key_id, tx.now):
            tx.record(
                "api_key.revoked",
                actor.actor(),
                {"id": key_id, "prefix": key.prefix, "name": key.name},
            )
        key = await store.get_key(tx.conn, key_id)
        assert key is not None
    return key


async def authenticate(ctx: Context, token: str | None) -> Principal:
    """The principal a bearer key stands for; Unauthenticated for anything else."""
    if not token:
        raise Unauthenticated("send an API key as `Authorization: Bearer <key>`")
    parts = token.removeprefix(KEY_PREFIX).split("_", 1)
    if not token.startswith(KEY_PREFIX) or len(parts) != 2:
        raise Unauthenticated("the API key is not in the form sk_<prefix>_<secret>")
    async with ctx.db.read() as conn:
        found = await store.find_key_for_auth(conn, parts[0])
    if found is None or not hmac.compare_digest(found.secret_hash, hash_secret(token)):
        raise Unauthenticated("the API key is not valid")
    if found.key.revoked_at is not None:
        raise Unauthenticated(f"the API key {found.key.prefix} was revoked")
    if not found.user_active:
        raise Unauthenticated("the API key's user is deactivated")
    return Principal(
        role=found.key.role,
        key_id=found.key.id,
        user_id=found.key.user_id,
        user_email=found.user_email,
        name=found.key.name,
    )
