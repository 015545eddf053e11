"""Every POST honours `Idempotency-Key`: a route class wraps the handler of each POST route.

The same wrapper authenticates the caller of every route first, so that nothing of an
unauthenticated call is read: a missing key is a 401 even when the body is not JSON. Then it
refuses NUL characters in the path and the query, which PostgreSQL text cannot hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from ..errors import ValidationFailed
from ..service import idempotency
from .deps import context, principal

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Makes a retry safe: a replay with the same body answers the first answer "
    "(header `Idempotent-Replayed: true`); the same key with another body is a 422.",
}


class IdempotentRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if "POST" in (self.methods or ()):
            extra = self.openapi_extra or {}
            self.openapi_extra = {
                **extra,
                "parameters": [*extra.get("parameters", []), IDEMPOTENCY_HEADER],
            }

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        idempotent = "POST" in (self.methods or ())

        async def route(request: Request) -> Response:
            caller = await principal(request)  # before the body is parsed; keys are per caller
            _refuse_nul(request)
            key = request.headers.get("idempotency-key")
            if key is None or not idempotent:
                return await handler(request)
            ctx = context(request)
            owner = caller.key_id or "system"
            body = await request.body()
            fingerprint = hashlib.sha256(
                b"%s %s?%s\n"
                % (request.method.encode(), request.url.path.encode(), request.url.query.encode())
                + body
            ).hexdigest()
            stored = await idempotency.begin(ctx, owner, key, fingerprint)
            if stored is not None:
                status, content = stored
                return Response(
                    content,
                    status,
                    media_type=_media_type(status),
                    headers={"Idempotent-Replayed": "true"},
                )
            try:
                response = await handler(request)
            except BaseException:
                await idempotency.abandon(ctx, owner, key)
                raise
            if response.status_code >= 500:
                await idempotency.abandon(ctx, owner, key)
            else:
                await idempotency.finish(
                    ctx, owner, key, response.status_code, _without_secrets(bytes(response.body))
                )
            return response

        return route


SECRET_PREFIXES = ("sk_", "whsec_")
# The fields that carry a secret shown once: an API key's `key`, an endpoint's `secret`. Only
# those: a loop named "sk_team" or content that quotes a key is the caller's text, kept as sent.
SECRET_FIELDS = ("key", "secret")


def _without_secrets(body: bytes) -> bytes:
    """The answer as kept for replays: a secret shown once (an API key, a signing secret) is
    not kept, because secrets are stored hashed or not at all. A replay says it was redacted."""
    if not any(prefix.encode() in body for prefix in SECRET_PREFIXES):
        return body
    try:
        answer = json.loads(body)
    except ValueError:
        return body
    if not isinstance(answer, dict):
        return body
    for name, value in answer.items():
        if name in SECRET_FIELDS and isinstance(value, str) and value.startswith(SECRET_PREFIXES):
            answer[name] = "(shown only in the first answer)"
    return json.dumps(answer).encode()


def _media_type(status: int) -> str:
    return "application/json" if status < 400 else "application/problem+json"


def _refuse_nul(request: Request) -> None:
    for where, params in (
        ("path", list(request.path_params.items())),
        ("query", request.query_params.multi_items()),
    ):
        for name, value in params:
            if "\x00" in str(value):
                raise ValidationFailed.field(f"{where}.{name}", "contains a NUL character")
