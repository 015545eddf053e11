"""What routes share: the service context, the caller's principal, role checks, cursors."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..domain.model import Principal, Role
from ..errors import Forbidden, ValidationFailed
from ..service.context import Context
from ..service.users import authenticate
from .schemas import Page

Item = TypeVar("Item")
Out = TypeVar("Out")


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def principal(request: Request) -> Principal:
    """The caller, authenticated once per HTTP request (idempotent routes do it first)."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        found = await authenticate(context(request), bearer(request))
        request.state.principal = found
    return found


# Declares the scheme in the OpenAPI document; the key itself is read by `principal`.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key: `sk_<prefix>_<secret>`.")


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    async def check(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
    ) -> Principal:
        caller = await principal(request)
        if caller.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this needs a key with role {allowed}; yours is {caller.role.value}")
        return caller

    return check


Ctx = Annotated[Context, Depends(context)]
Admin = Annotated[Principal, Depends(require(Role.admin))]
Writer = Annotated[Principal, Depends(require(Role.admin, Role.requester))]
Reader = Annotated[Principal, Depends(require(Role.admin, Role.requester, Role.reviewer))]
Voter = Annotated[Principal, Depends(require(Role.admin, Role.reviewer))]

_ID = re.compile(r"^[a-z]{2,8}_[0-9A-Z]{26}$")


def encode_cursor(id_: str | None) -> str | None:
    return base64.urlsafe_b64encode(id_.encode()).decode().rstrip("=") if id_ else None


def decode_cursor(cursor: str | None, prefix: str) -> str | None:
    """The id a cursor stands for, or a 422 that names the cursor."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not _ID.match(raw) or not raw.startswith(prefix + "_"):
        raise ValidationFailed.field("query.cursor", "not a cursor this list gave out")
    return raw


def limit_query(request: Request, limit: int | None = Query(None, ge=1)) -> int:
    limits = context(request).limits
    return min(limit or limits.page_size, limits.max_page_size)


Limit = Annotated[int, Depends(limit_query)]


def page_of(
    found: Sequence[Item], limit: int, out: Callable[[Item], Out], cursor: Callable[[Item], str]
) -> Page[Out]:
    """One page from `limit + 1` rows: the extra row only says whether there is a next page."""
    rows = list(found[:limit])
    next_cursor = cursor(rows[-1]) if len(found) > limit else None
    return Page(data=[out(r) for r in rows], next_cursor=next_cursor)


class HasId(Protocol):
    @property
    def id(self) -> str: ...


def id_cursor(item: HasId) -> str:
    return base64.urlsafe_b64encode(item.id.encode()).decode().rstrip("=")
