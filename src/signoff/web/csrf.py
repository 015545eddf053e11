"""CSRF protection for every form and fetch() call of the web app.

A signed-in browser's forms carry its session's CSRF secret; a browser without a session
(the sign-in form, a review link's page) gets a random token in a cookie of its own and the
same token in its forms (double submit). Every unsafe request must send the token back, as the
`csrf_token` form field or the `X-CSRF-Token` header, and, when the browser says where it comes
from (`Origin`), come from this site. The check is a dependency of every web router, so a new
POST route cannot forget it.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request

from ..errors import Forbidden
from .auth import session_of

COOKIE = "signoff_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def anonymous_token(request: Request) -> str:
    """The double-submit token of a browser without a session (made on first use; the
    response sets the cookie: see render.py)."""
    token: str | None = getattr(request.state, "csrf_anonymous", None)
    if token is None:
        token = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)
        request.state.csrf_anonymous = token
    return token


async def token_for(request: Request) -> str:
    """The token this browser's forms must carry."""
    session = await session_of(request)
    return session.csrf_secret if session else anonymous_token(request)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    public = urlsplit(request.app.state.ctx.public_url).netloc
    return urlsplit(origin).netloc in {host, public}


async def csrf_protect(request: Request) -> None:
    """Refuse an unsafe request without the right token (403)."""
    request.state.web = True  # errors on this route are pages, not problem+json
    if request.method in SAFE:
        return
    session = await session_of(request)
    expected = session.csrf_secret if session else request.cookies.get(COOKIE)
    sent = request.headers.get(HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden(
            "this form has expired or did not come from this page; reload the page and try again"
        )
    if not _same_origin(request):
        raise Forbidden("this form was sent from another site")
