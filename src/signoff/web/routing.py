"""The router every web module uses: CSRF checked on every unsafe method, errors as pages,
and HEAD answered wherever GET is."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from .csrf import csrf_protect

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    """A GET route answers HEAD too (link checkers, monitors, `curl -I`), with GET's status and
    headers and no body. HEAD runs the GET handler, so a GET handler must only read, as every
    page here does (a claim is a POST from the page's script); a stream is not started."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.pop("methods", None) or ("GET",)}
        if "GET" in methods:
            methods.add("HEAD")
        super().__init__(path, endpoint, methods=methods, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            response = await handler(request)
            return headers_only(response) if request.method == "HEAD" else response

        return route


def headers_only(response: Response) -> Response:
    """`response` without its body (and without running a stream), for a HEAD request."""
    bare = Response(status_code=response.status_code)
    bare.raw_headers = list(response.raw_headers)  # Content-Length as GET would send it
    bare.body = b""
    return bare


def web_router() -> APIRouter:
    """An APIRouter for pages: CSRF-checked, HEAD wherever GET, left out of the OpenAPI document."""
    return APIRouter(
        dependencies=[Depends(csrf_protect)], include_in_schema=False, route_class=PageRoute
    )


async def form_text(request: Request, name: str, default: str = "") -> str:
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else default


async def form_list(request: Request, name: str) -> list[str]:
    return [v for v in (await request.form()).getlist(name) if isinstance(v, str)]


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site (never `//host` or `https://…`), else `default`."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default
