"""Errors on web pages are pages: the same SignoffError tree as the API, shown as HTML.

`install` wraps the API's handlers: a web route (or a browser asking for an unknown page)
gets HTML, /v1 and anything else keep RFC 9457 problem+json.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from ..errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SignoffError,
    Unauthenticated,
    ValidationFailed,
)
from .auth import SignInRequired, login_url
from .render import page
from .routing import headers_only

log = logging.getLogger(__name__)
Handler = Callable[[Request, Exception], Awaitable[Response]]
API_PATHS = ("/v1/", "/v1", "/healthz", "/readyz", "/openapi.json")

_STATUS: list[tuple[type[SignoffError], int]] = [
    (NotFound, 404),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Conflict, 409),
    (ValidationFailed, 422),
    (PayloadTooLarge, 413),
    (RateLimited, 429),
]
_HTTP_TITLES = {404: "Page not found", 405: "Not allowed here"}


def is_web(request: Request) -> bool:
    if getattr(request.state, "web", False):
        return True
    path = request.url.path
    api = path.startswith(API_PATHS)
    return not api and "text/html" in request.headers.get("accept", "")


async def error_page(
    request: Request, status: int, title: str, detail: str, errors: list[str] | None = None
) -> Response:
    return await page(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail, "errors": errors or []},
        status=status,
    )


def install(app: FastAPI) -> None:
    """Put the web's handlers in front of the API's, for web requests only."""
    previous: dict[type[Exception], Handler] = dict(app.exception_handlers)

    def dispatch(kind: type[Exception], web: Handler) -> None:
        fallback = previous.get(kind)

        async def handler(request: Request, exc: Exception) -> Response:
            if is_web(request) or fallback is None:
                response = await web(request, exc)
                return headers_only(response) if request.method == "HEAD" else response
            return await fallback(request, exc)

        app.add_exception_handler(kind, handler)

    async def on_signoff_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignoffError)
        if isinstance(exc, SignInRequired):
            return RedirectResponse(login_url(exc.next_path), status_code=303)
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
        fields = [f"{e.field}: {e.message}" for e in exc.errors]
        return await error_page(request, status, exc.title, exc.detail, fields)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in list(exc.errors())[:10]
        ]
        return await error_page(
            request, 422, "The input is not valid", "Some fields are wrong.", fields
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = _HTTP_TITLES.get(exc.status_code, "Something went wrong")
        detail = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        return await error_page(request, exc.status_code, title, detail)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return await error_page(
            request, 500, "Something went wrong", "An unexpected error happened; it was logged."
        )

    dispatch(SignoffError, on_signoff_error)
    dispatch(RequestValidationError, on_validation)
    dispatch(HTTPException, on_http)
    dispatch(Exception, on_crash)
