"""Passwords people choose: argon2id hashes, the one place that makes and checks them."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..domain.model import Principal
from ..errors import NotFound, ValidationFailed
from ..store import sessions as store
from ..store import users as user_store
from .context import Context, transaction
from .views import user_snapshot

_hasher = PasswordHasher()
MIN_LENGTH = 10
# Checked against when the email is unknown, so that a wrong email takes as long as a wrong
# password and the timing does not tell which accounts exist.
_DUMMY = _hasher.hash("not a password anyone has")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; a user without a password never matches."""
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_strength(password: str, field: str = "body.password") -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed.field(field, f"must be at least {MIN_LENGTH} characters long")


async def set_password(ctx: Context, actor: Principal, user_id: str, password: str) -> None:
    """Set a user's password and sign them out everywhere else (their sessions end)."""
    check_strength(password)
    async with transaction(ctx) as tx:
        if not await store.set_password_hash(tx.conn, user_id, hash_password(password), tx.now):
            raise NotFound(f"no user with id {user_id!r}")
        await store.delete_user_sessions(tx.conn, user_id)
        user = await user_store.get_user(tx.conn, user_id)
        assert user is not None
        tx.record("user.updated", actor.actor(), {**user_snapshot(user), "changed": ["password"]})
