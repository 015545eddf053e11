"""Idempotency keys: a replayed write gets its first answer, whatever happened in between."""

from __future__ import annotations

from ..errors import IdempotencyKeyInUse, ValidationFailed
from ..store import idempotency as store
from .context import Context

MAX_KEY_LENGTH = 255


async def begin(
    ctx: Context, principal: str, key: str, fingerprint: str
) -> tuple[int, bytes] | None:
    """None: go ahead, this is the first call. Else the stored (status, body) to answer again."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed.field(
            "header.Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} characters"
        )
    async with ctx.db.write() as conn:
        stored = await store.claim(conn, principal, key, fingerprint, ctx.clock())
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise ValidationFailed.field(
            "header.Idempotency-Key", "this key was used before with another request body"
        )
    if stored.status_code is None or stored.body is None:
        raise IdempotencyKeyInUse(
            "a call with this Idempotency-Key is still in progress; retry shortly"
        )
    return stored.status_code, stored.body


async def finish(ctx: Context, principal: str, key: str, status_code: int, body: bytes) -> None:
    async with ctx.db.write() as conn:
        await store.record(conn, principal, key, status_code, body)


async def abandon(ctx: Context, principal: str, key: str) -> None:
    """Forget a key whose call failed unexpectedly, so that the client's retry can run."""
    async with ctx.db.write() as conn:
        await store.release(conn, principal, key)
