"""Accounts made through one-time links: the first admin's setup link, and invites.

`signoff serve` prints a setup link while no admin can sign in; whoever opens it first makes
the first admin account. An admin invites a person by email; the invite link lets them choose
a password, once, before it expires. Tokens are stored as SHA-256 only (see domain/tokens.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.ids import new_id
from ..domain.model import SYSTEM, Principal, Role, User, UserRole
from ..domain.tokens import (
    AccountToken,
    AccountTokenKind,
    TokenState,
    account_token,
    account_token_matches,
    new_nonce,
    split_token,
    token_hash,
)
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..store import links as store
from ..store import users as user_store
from ..store import webhooks as secret_store
from ..store.db import Conn
from .context import Context, Tx, transaction
from .passwords import check_strength, hash_password
from .users import create_user_in
from .views import rfc3339, user_snapshot

ACCOUNT_KEY = "account_link_key"
SETUP_TTL = timedelta(hours=24)
INVITE_TTL = timedelta(days=7)


@dataclass(frozen=True)
class IssuedToken:
    token: AccountToken
    url: str  # holds the secret: shown to its one recipient only


@dataclass(frozen=True)
class OpenedToken:
    token: AccountToken
    state: TokenState
    user: User | None  # the invited user; None for a setup link


def _url(ctx: Context, kind: AccountTokenKind, token: str) -> str:
    return f"{ctx.public_url.rstrip('/')}/{kind.value}/{token}"


async def _issue(
    tx: Tx, ctx: Context, kind: AccountTokenKind, user_id: str | None, ttl: timedelta
) -> IssuedToken:
    # A new link replaces the unused ones before it: only the latest one printed or sent works.
    await store.revoke_account_tokens(tx.conn, tx.now, kind=kind, user_id=user_id)
    found = AccountToken(
        id=new_id("tok", tx.now),
        kind=kind,
        user_id=user_id,
        expires_at=tx.now + ttl,
        created_at=tx.now,
    )
    key = await secret_store.server_secret(tx.conn, ACCOUNT_KEY, secrets.token_urlsafe(32), tx.now)
    token = account_token(key.encode(), found.id, kind, new_nonce())
    await store.insert_account_token(tx.conn, found, token_hash(token))
    return IssuedToken(found, _url(ctx, kind, token))


async def _admin_can_sign_in(conn: Conn) -> bool:
    return await user_store.count_admins_with_password(conn) > 0


async def start_setup(ctx: Context) -> IssuedToken | None:
    """A fresh setup link while no admin can sign in (each start replaces the last); else None."""
    async with transaction(ctx) as tx:
        if not ctx.db.is_sqlite:
            await user_store.lock_bootstrap(tx.conn)  # replicas starting together make one
        if await _admin_can_sign_in(tx.conn):
            return None
        return await _issue(tx, ctx, AccountTokenKind.setup, None, SETUP_TTL)


async def _resolve(conn: Conn, token: str, kind: AccountTokenKind) -> AccountToken:
    invalid = NotFound(f"this {kind.value} link is not valid")
    parts = split_token(token)
    if parts is None:
        raise invalid
    found = await store.get_account_token(conn, parts[0])
    key = await secret_store.read_server_secret(conn, ACCOUNT_KEY)
    if found is None or key is None or found[0].kind is not kind:
        raise invalid
    if not account_token_matches(key.encode(), found[0], token, found[1]):
        raise invalid
    return found[0]


async def _state(conn: Conn, found: AccountToken, now: datetime) -> OpenedToken:
    state = found.state(now)
    user = await user_store.get_user(conn, found.user_id) if found.user_id else None
    if found.user_id and state is TokenState.valid and (user is None or not user.active):
        state = TokenState.revoked
    if found.kind is AccountTokenKind.setup and state is TokenState.valid:
        if await _admin_can_sign_in(conn):
            state = TokenState.spent  # someone finished the set-up another way
    return OpenedToken(found, state, user)


async def open_account_link(ctx: Context, token: str, kind: AccountTokenKind) -> OpenedToken:
    """What a setup or invite page shows; reads only."""
    async with ctx.db.read() as conn:
        return await _state(conn, await _resolve(conn, token, kind), ctx.clock())


_REFUSED = {
    TokenState.spent: "this link was already used; sign in instead",
    TokenState.revoked: "this link was replaced or revoked; ask an admin for a new one",
    TokenState.expired: "this link has expired; ask an admin for a new one",
}


async def _use(tx: Tx, token: str, kind: AccountTokenKind) -> OpenedToken:
    opened = await _state(tx.conn, await _resolve(tx.conn, token, kind), tx.now)
    if opened.state is not TokenState.valid:
        raise (Conflict if opened.state is TokenState.spent else Forbidden)(_REFUSED[opened.state])
    if not await store.use_account_token(tx.conn, opened.token.id, tx.now):
        raise Conflict(_REFUSED[TokenState.spent])
    return opened


async def complete_setup(ctx: Context, token: str, email: str, name: str, password: str) -> User:
    """Make the first admin through the setup link; the link is spent by it."""
    email, name = email.strip().lower(), name.strip()
    if "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        raise ValidationFailed.field("form.email", "not an email address")
    if not name:
        raise ValidationFailed.field("form.name", "give a name")
    check_strength(password, "form.password")
    async with transaction(ctx) as tx:
        if not ctx.db.is_sqlite:
            await user_store.lock_bootstrap(tx.conn)
        await _use(tx, token, AccountTokenKind.setup)
        actor = Principal(role=SYSTEM.role, name="setup link")
        existing = await user_store.get_user_by_email(tx.conn, email)
        values = {
            "name": name,
            "role": UserRole.admin.value,
            "password_hash": hash_password(password),
            "active": True,
            "updated_at": tx.now,
        }
        if existing is None:
            user_id = new_id("usr", tx.now)
            await user_store.insert_user(
                tx.conn, {"id": user_id, "email": email, "created_at": tx.now, **values}
            )
        else:  # e.g. made by `signoff users create` before anyone set a password
            user_id = existing.id
            await user_store.update_user(tx.conn, user_id, values)
        user = await user_store.get_user(tx.conn, user_id)
        assert user is not None
        tx.record(
            "user.created" if existing is None else "user.updated",
            actor.actor(),
            {**user_snapshot(user), "via": "setup link"},
        )
    return user


async def invite_user(
    ctx: Context, actor: Principal, user_id: str, ttl: timedelta = INVITE_TTL
) -> IssuedToken:
    """An invite link that lets the user choose a password; earlier unused invites stop working."""
    async with transaction(ctx) as tx:
        user = await user_store.get_user(tx.conn, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id!r}")
        return await _invite(tx, ctx, actor, user, ttl)


async def _invite(
    tx: Tx, ctx: Context, actor: Principal, user: User, ttl: timedelta
) -> IssuedToken:
    if not user.active:
        raise Conflict(f"user {user.email} is deactivated; reactivate them first")
    issued = await _issue(tx, ctx, AccountTokenKind.invite, user.id, ttl)
    tx.record(
        "user.invited",
        actor.actor(),
        {**user_snapshot(user), "expires_at": rfc3339(issued.token.expires_at)},
    )
    return issued


async def create_invited_user(
    ctx: Context, actor: Principal, email: str, name: str, role: UserRole
) -> tuple[User, IssuedToken]:
    """A new user without a password, and the invite link that lets them set one."""
    async with transaction(ctx) as tx:
        user = await create_user_in(tx, actor, email, name, role, None)
        return user, await _invite(tx, ctx, actor, user, INVITE_TTL)


async def accept_invite(ctx: Context, token: str, password: str) -> User:
    """Set the invited user's password; the invite is spent by it."""
    check_strength(password, "form.password")
    async with transaction(ctx) as tx:
        opened = await _use(tx, token, AccountTokenKind.invite)
        assert opened.user is not None
        await user_store.update_user(
            tx.conn,
            opened.user.id,
            {"password_hash": hash_password(password), "updated_at": tx.now},
        )
        user = await user_store.get_user(tx.conn, opened.user.id)
        assert user is not None
        actor = Principal(
            role=Role(user.role.value), user_id=user.id, user_email=user.email, name=user.name
        )
        tx.record("user.updated", actor.actor(), {**user_snapshot(user), "changed": ["password"]})
    return user
