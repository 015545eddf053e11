"""The MCP server over streamable HTTP, served by `signoff serve` at /mcp.

Its tools call the API in-process (an httpx `ASGITransport` on the app itself) with the key
the caller sent, so they act as that caller, through the same routes, role checks and
policies as any REST client. Stateless: any replica can answer any call.

The MCP SDK takes a second or two of CPU to import, so it is loaded at the first call to /mcp
(in a thread), not when the server starts.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from anyio.abc import TaskGroup, TaskStatus
from starlette.types import ASGIApp, Receive, Scope, Send

from ..client import AsyncClient, Unauthenticated
from . import DEFAULT_WAIT_SECONDS

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

PATH = "/mcp"


class Endpoint:
    """An ASGI app to route at /mcp (behind the API key check); `running()` belongs in the
    lifespan of the app that serves it. `api` is the app whose /v1 routes the tools call."""

    def __init__(self, api: ASGIApp, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
        self._api = api
        self._wait_seconds = wait_seconds
        self._sessions: StreamableHTTPSessionManager | None = None
        self._tasks: TaskGroup | None = None
        self._starting = anyio.Lock()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sessions = self._sessions or await self._start()
        await sessions.handle_request(scope, receive, send)

    async def _start(self) -> StreamableHTTPSessionManager:
        async with self._starting:
            if self._sessions is None:
                if self._tasks is None:
                    raise RuntimeError("the MCP endpoint is served outside `running()`")
                await anyio.to_thread.run_sync(importlib.import_module, "signoff.mcp.tools")
                sessions = self._build()
                await self._tasks.start(_serve, sessions)
                self._sessions = sessions
            return self._sessions

    def _build(self) -> StreamableHTTPSessionManager:
        from mcp.server.transport_security import TransportSecuritySettings

        from .tools import build_server

        server = build_server(self._connect, self._wait_seconds)
        # No Host/Origin check: every call carries an API key in a header, which a page in a
        # browser (DNS rebinding) cannot add.
        server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return server.session_manager

    @asynccontextmanager
    async def _connect(self, ctx: Any) -> AsyncIterator[AsyncClient]:
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


async def _serve(sessions: StreamableHTTPSessionManager, *, task_status: TaskStatus[None]) -> None:
    async with sessions.run():
        task_status.started()
        await anyio.sleep_forever()
