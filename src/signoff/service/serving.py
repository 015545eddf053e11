"""The URL the server answers with, told to the other processes on its database.

`signoff serve --port P` builds its links (`review_url`, review links, invites) on the URL it
serves at. A command run beside it (`signoff requests show`, `signoff users create`) shares only
the database, so the server records that URL there and the command prints the same links.
"""

from __future__ import annotations

from ..store import webhooks as store
from .context import Context

SERVING_URL = "serving_url"  # a row of server_secrets; a URL, not a secret
MAX_LENGTH = 200  # what the row holds


async def record_serving_url(ctx: Context) -> None:
    if len(ctx.public_url) > MAX_LENGTH:
        return  # the commands fall back to the default; SIGNOFF_PUBLIC_URL there says it too
    async with ctx.db.write() as conn:
        await store.put_server_value(conn, SERVING_URL, ctx.public_url, ctx.clock())


async def serving_url(ctx: Context) -> str | None:
    """The URL the last server to start answers with, if one ever started on this database."""
    async with ctx.db.read() as conn:
        return await store.read_server_secret(conn, SERVING_URL)
