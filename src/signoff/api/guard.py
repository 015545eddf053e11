"""The API key check in front of an ASGI app that is not a /v1 route (the MCP endpoint)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import SignoffError
from ..service.context import Context
from ..service.users import authenticate
from .deps import bearer
from .problems import from_error


class RequireKey:
    """Every HTTP request must carry a valid key (`Authorization: Bearer …`) to reach `app`;
    any other gets the 401 problem+json a /v1 route answers. Checked on every request, so a
    revoked key stops working at once."""

    def __init__(self, ctx: Context, app: ASGIApp) -> None:
        self.ctx = ctx
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await authenticate(self.ctx, bearer(Request(scope)))
            except SignoffError as error:
                await from_error(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
