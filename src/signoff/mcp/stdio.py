"""`signoff mcp`: the MCP server over stdio, for an assistant that starts it as a subprocess.

A client of a running Signoff server: every tool call is an API call with the key it was
given, so that key's role and the loops' policies apply as to any other client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import Context

from ..client import AsyncClient
from . import DEFAULT_WAIT_SECONDS
from .tools import build_server


async def serve_stdio(url: str, api_key: str, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
    """Answer MCP on stdin/stdout until the client closes them."""
    # Few, short retries: when Signoff is down the assistant is better told now than in a minute.
    async with AsyncClient(url, api_key, retries=2, backoff=0.2, max_backoff=2.0) as client:

        @asynccontextmanager
        async def connect(_: Context) -> AsyncIterator[AsyncClient]:
            yield client

        await build_server(connect, wait_seconds).run_stdio_async()
