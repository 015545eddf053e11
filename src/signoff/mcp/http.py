"""The MCP server over streamable HTTP, served by `signoff serve` at /mcp.

Its tools call the API in-process (an httpx `ASGITransport` on the app itself) with the key
the caller sent, so they act as that caller, through the same routes, role checks and
policies as any REST client. Stateless: any replica can answer any call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from ..client import AsyncClient, Unauthenticated
from .tools import DEFAULT_WAIT_SECONDS, build_server

PATH = "/mcp"


class Endpoint:
    """An ASGI app to route at /mcp (behind the API key check); `running()` belongs in the
    lifespan of the app that serves it. `api` is the app whose /v1 routes the tools call."""

    def __init__(self, api: ASGIApp, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self._api = api
        server = build_server(self._connect, wait_seconds)
        # Builds the session manager. No Host/Origin check: every call carries an API key in a
        # header, which a page in a browser (DNS rebinding) cannot add.
        server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self._sessions = server.session_manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._sessions.handle_request(scope, receive, send)

    def running(self) -> AbstractAsyncContextManager[None]:
        return self._sessions.run()

    @asynccontextmanager
    async def _connect(self, ctx: Context) -> AsyncIterator[AsyncClient]:
        header = (ctx.headers or {}).get("authorization", "")
        kind, _, key = header.partition(" ")
        if kind.lower() != "bearer" or not key.strip():
            raise Unauthenticated("send an API key as `Authorization: Bearer <key>`")
        transport = httpx.ASGITransport(app=self._api)
        # A few quick retries, for what the SDK retries (a 503, an identical call in flight).
        async with AsyncClient(
            "http://signoff",
            key.strip(),
            transport=transport,
            retries=3,
            backoff=0.1,
            max_backoff=1.0,
        ) as client:
            yield client
