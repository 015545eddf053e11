"""Is this process ready to serve: database reachable, schema at the newest migration."""

from __future__ import annotations

from ..store.migrate import current_revision, head_revision
from .context import Context


async def readiness(ctx: Context) -> tuple[bool, str]:
    try:
        async with ctx.db.read() as conn:
            current = await current_revision(conn)
    except Exception as exc:  # any driver error means "not ready", with its reason
        return False, f"database unreachable: {type(exc).__name__}"
    head = head_revision()
    if current != head:
        return False, f"schema at {current}, code expects {head}: run `signoff migrate`"
    return True, f"schema at {head}"
