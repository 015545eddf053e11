"""Signing in to the web app: sessions held server-side, and a brake on password guessing.

The browser keeps a random token in a cookie; the database keeps only its SHA-256, so a copy
of the database signs no one in. Each session has its own CSRF secret. Sign-in failures are
counted per account and per address over a window; past the limit, sign-in is refused with
the time to wait, whether or not the password is right.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.ids import new_id
from ..domain.model import Principal, Role, User
from ..errors import RateLimited, Unauthenticated
from ..store import sessions as store
from ..store import users as user_store
from ..store import webhooks as secret_store
from .context import Context, transaction
from .passwords import check_password

SESSION_LIFETIME = timedelta(days=7)  # at most, however active
SESSION_IDLE = timedelta(hours=12)  # unused this long, it ends
TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
FLASH_KEY = "web_flash_key"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: who, and the CSRF secret its forms must carry."""

    id: str
    user: User
    csrf_secret: str
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        return Principal(
            role=Role(self.user.role.value),
            user_id=self.user.id,
            user_email=self.user.email,
            name=self.user.name,
        )


@dataclass(frozen=True)
class SignedIn:
    session: WebSession
    token: str  # for the cookie; never stored


def _wait_message(who: str, oldest: datetime | None, now: datetime) -> str:
    until = (oldest or now) + ATTEMPT_WINDOW
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"too many failed sign-ins {who}; try again in {minutes} {unit}"


async def _check_rate(ctx: Context, email: str, address: str, now: datetime) -> None:
    since = now - ATTEMPT_WINDOW
    async with ctx.db.read() as conn:
        by_account = await store.failures_since(conn, since, email=email)
        by_address = await store.failures_since(conn, since, address=address)
    if by_account[0] >= MAX_FAILURES_PER_ACCOUNT:
        raise RateLimited(_wait_message("for this account", by_account[1], now))
    if by_address[0] >= MAX_FAILURES_PER_ADDRESS:
        raise RateLimited(_wait_message("from your address", by_address[1], now))


async def sign_in(
    ctx: Context, email: str, password: str, address: str, *, replacing: str | None = None
) -> SignedIn:
    """A new session for the user with this email and password; the session in `replacing`
    (the browser's old token, if any) ends, so a session id never survives a sign-in."""
    email = email.strip().lower()
    now = ctx.clock()
    await _check_rate(ctx, email, address, now)
    async with ctx.db.read() as conn:
        found = await store.get_password_hash(conn, email)
    # The hash is checked outside any transaction: argon2 takes tens of milliseconds.
    ok = check_password(found[1] if found else None, password) and bool(found and found[2])
    async with transaction(ctx) as tx:
        await store.record_attempt(tx.conn, email, address, ok, tx.now)
        await store.forget_attempts(tx.conn, tx.now - 4 * ATTEMPT_WINDOW)
        if replacing:
            await store.delete_session(tx.conn, _hash(replacing))
        if not ok or found is None:
            signed_in = None
        else:
            user = await user_store.get_user(tx.conn, found[0])
            assert user is not None
            token = secrets.token_urlsafe(32)
            session = WebSession(
                new_id("ses", tx.now), user, secrets.token_urlsafe(32), tx.now + SESSION_LIFETIME
            )
            await store.delete_expired_sessions(tx.conn, tx.now)
            await store.insert_session(
                tx.conn,
                {
                    "id": session.id,
                    "token_hash": _hash(token),
                    "user_id": user.id,
                    "csrf_secret": session.csrf_secret,
                    "created_at": tx.now,
                    "last_seen_at": tx.now,
                    "expires_at": session.expires_at,
                },
            )
            signed_in = SignedIn(session, token)
    if signed_in is None:
        raise Unauthenticated("the email or the password is wrong")
    return signed_in


async def session_for(ctx: Context, token: str | None) -> WebSession | None:
    """The live session this cookie token stands for, or None (unknown, expired, idle too
    long, or its user deactivated)."""
    if not token:
        return None
    now = ctx.clock()
    async with ctx.db.read() as conn:
        row = await store.find_session(conn, _hash(token))
    if row is None or not row.user.active:
        return None
    if row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        async with transaction(ctx) as tx:
            await store.touch_session(tx.conn, row.id, tx.now)
    return WebSession(row.id, row.user, row.csrf_secret, row.expires_at)


async def sign_out(ctx: Context, token: str | None) -> None:
    if token:
        async with transaction(ctx) as tx:
            await store.delete_session(tx.conn, _hash(token))


async def end_user_sessions(ctx: Context, user_id: str) -> int:
    """Sign a user out everywhere (deactivation, role change, password reset)."""
    async with transaction(ctx) as tx:
        return await store.delete_user_sessions(tx.conn, user_id)


async def flash_key(ctx: Context, *, make: bool = False) -> bytes | None:
    """The server key that seals a one-time message (a new API key, an invite link) the web
    app hands to the browser across a redirect (web/flash.py); made on first use when `make`."""
    if not make:
        async with ctx.db.read() as conn:
            found = await secret_store.read_server_secret(conn, FLASH_KEY)
        return found.encode() if found is not None else None
    async with transaction(ctx) as tx:
        made = secrets.token_urlsafe(32)
        return (await secret_store.server_secret(tx.conn, FLASH_KEY, made, tx.now)).encode()
