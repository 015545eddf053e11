"""What the MCP tests share: a client session over either transport, and readers of results."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult

from tests.integration.server import SIGNOFF, Live

# How long a tool call waits for a decision before it answers `pending`: short, so a test of
# that path takes seconds; long enough for a test to decide while a call is in flight.
BOUND = 6.0


Session = ClientSession | Client


@contextlib.asynccontextmanager
async def connect(
    transport: str, live: Live, key: str, *, errlog: Path | None = None
) -> AsyncIterator[Session]:
    """An initialized MCP client session acting with `key`, over `transport`: `stdio`
    (spawning `signoff mcp`), `http` (streamable HTTP, the initialize handshake of the 2025
    protocol revisions) or `http-2026` (the sessionless 2026-07-28 revision)."""
    async with contextlib.AsyncExitStack() as stack:
        if transport == "stdio":
            params = StdioServerParameters(
                command=SIGNOFF[0],
                args=[*SIGNOFF[1:], "mcp"],
                env={
                    "SIGNOFF_URL": live.url,
                    "SIGNOFF_API_KEY": key,
                    "SIGNOFF_MCP_WAIT_SECONDS": str(BOUND),
                },
            )
            log = stack.enter_context(open(errlog or "/dev/null", "w"))
            read, write = await stack.enter_async_context(stdio_client(params, errlog=log))
        else:
            http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
            await stack.enter_async_context(http)
            streams = streamable_http_client(f"{live.url}/mcp", http_client=http)
            if transport == "http-2026":
                yield await stack.enter_async_context(Client(streams, mode="2026-07-28"))
                return
            read, write = await stack.enter_async_context(streams)
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        yield session


def outcome(result: CallToolResult) -> dict[str, Any]:
    """The structured answer of a tool call that succeeded."""
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)
