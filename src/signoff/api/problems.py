"""The one module that turns errors into RFC 9457 problem+json answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    SignoffError,
    Unauthenticated,
    ValidationFailed,
)

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"

_STATUS: list[tuple[type[SignoffError], int]] = [
    (NotFound, 404),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Conflict, 409),
    (ValidationFailed, 422),
    (PayloadTooLarge, 413),
    (RateLimited, 429),
    (ServerError, 500),
]


_HTTP = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    400: ("bad-request", "Bad request"),
}


def problem_type(slug: str) -> str:
    return f"urn:signoff:problem:{slug}"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": problem_type(slug), "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _fields(errors: list[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


def from_error(exc: SignoffError) -> JSONResponse:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    extra = {"errors": _fields(exc.errors)} if isinstance(exc, ValidationFailed) else {}
    return problem(status, exc.slug, exc.title, exc.detail, **extra)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _message(msg: str) -> str:
    # pydantic prefixes the messages of our own validators; the prefix says nothing to a user.
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def from_validation(exc: RequestValidationError, content_type: str = "") -> JSONResponse:
    errors = list(exc.errors())
    body_not_json = not content_type.startswith("application/json") and any(
        e.get("loc") == ("body",) and e.get("type") != "missing" for e in errors
    )
    if body_not_json:
        return problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send the body as JSON with `Content-Type: application/json`"
            f" (this one was {content_type or 'not labelled'})",
        )
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        detail = f"the body is not valid JSON: {first.get('ctx', {}).get('error', 'parse error')}"
        return problem(400, "malformed-json", "Malformed JSON", detail)
    failed = validation_failed(errors)
    return problem(422, failed.slug, failed.title, failed.detail, errors=_fields(failed.errors))


def validation_failed(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> ValidationFailed:
    """pydantic's errors as a ValidationFailed naming each field (`body.rules.0.when`)."""
    fields = [FieldError(_loc((*prefix, *e["loc"])), _message(e["msg"])) for e in errors]
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return ValidationFailed(detail, fields)


def install(app: FastAPI) -> None:
    async def on_signoff_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SignoffError)
        return from_error(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return from_validation(exc, request.headers.get("content-type", ""))

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        slug, title = _HTTP.get(exc.status_code, ("http-error", "HTTP error"))
        return problem(exc.status_code, slug, title, str(exc.detail))

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500, "internal", "Internal error", "an unexpected error happened; it was logged"
        )

    app.add_exception_handler(SignoffError, on_signoff_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
