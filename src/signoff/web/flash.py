"""A one-time message across a redirect: POST, then 303 to a page that shows what the POST made.

A form that makes something (an API key, an invite link, a webhook endpoint) answers with a
redirect, so that reloading the page that follows repeats nothing. What that page must show
once (the new key's secret, the invite link) travels in a cookie sealed for this session:
AES-GCM with a server key (service.sessions.flash_key), the session id as associated data, a
two-minute life, the path of the admin pages only. The page that reads it deletes the cookie,
so a reload shows nothing. The server stores nothing; any replica can read it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Request, Response

from ..service.sessions import WebSession, flash_key
from .auth import context, is_secure

COOKIE = "signoff_flash"
PATH = "/admin"  # every page that uses it lives here
LIFETIME_SECONDS = 120


def _cipher(key: bytes) -> AESGCM:
    return AESGCM(hashlib.sha256(b"signoff web flash\n" + key).digest())


async def put(
    request: Request, response: Response, session: WebSession, page: str, **data: Any
) -> None:
    """Seal `data` (plain JSON values) for `page` (a path under /admin), in this session."""
    ctx = context(request)
    key = await flash_key(ctx, make=True)
    assert key is not None
    nonce = secrets.token_bytes(12)
    plain = json.dumps({"at": ctx.clock().timestamp(), "page": page, "data": data}).encode()
    sealed = nonce + _cipher(key).encrypt(nonce, plain, session.id.encode())
    response.set_cookie(
        COOKIE,
        base64.urlsafe_b64encode(sealed).decode(),
        max_age=LIFETIME_SECONDS,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )


async def take(request: Request, session: WebSession) -> dict[str, Any]:
    """What the last form of this session left for this page ({} if nothing, or if it is not
    this session's, was altered or is too old). render.page deletes the cookie after a GET.
    Another page leaves it alone: it waits for the page the redirect named."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    ctx = context(request)
    key = await flash_key(ctx)
    try:
        sealed = base64.urlsafe_b64decode(raw.encode())
        plain = _cipher(key or b"").decrypt(sealed[:12], sealed[12:], session.id.encode())
        found = json.loads(plain)
    except (ValueError, InvalidTag):
        request.state.flash_taken = True  # unreadable: gone
        return {}
    if found["page"] != request.url.path:
        return {}
    request.state.flash_taken = True
    made = datetime.fromtimestamp(found["at"], ctx.clock().tzinfo)
    if (ctx.clock() - made).total_seconds() > LIFETIME_SECONDS:
        return {}
    data: dict[str, Any] = found["data"]
    return data


def forget(request: Request, response: Response) -> None:
    """Delete a flash the page has read (never on HEAD: looking changes nothing)."""
    if getattr(request.state, "flash_taken", False) and request.method != "HEAD":
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
