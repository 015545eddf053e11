"""`/setup/{token}` (the first admin) and `/invite/{token}` (an invited person sets a password).

Both pages read on GET; the POST, with its CSRF token, spends the link and signs the person in.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ..domain.tokens import AccountTokenKind, TokenState
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..service import accounts as service
from ..service.passwords import MIN_LENGTH
from .auth import Ctx
from .login import start_session
from .render import page
from .routing import form_text, web_router

router = web_router()

_CLOSED = {
    TokenState.expired: "This link has expired. Ask an admin for a new one.",
    TokenState.revoked: "This link was replaced by a newer one or revoked. "
    "Ask an admin for a new one.",
    TokenState.spent: "This link was already used. Sign in with your email and password.",
}
_TEXT = {
    AccountTokenKind.setup: {
        "heading": "Set up Signoff",
        "intro": "Make the first admin account. You can invite everyone else afterwards.",
        "submit": "Create the admin account",
    },
    AccountTokenKind.invite: {
        "heading": "Welcome to Signoff",
        "intro": "Choose a password to finish setting up your account.",
        "submit": "Set my password",
    },
}


async def _closed(request: Request, detail: str, status: int) -> Response:
    values = {
        "heading": "This link does not work",
        "detail": detail,
        "opened": None,
        "done": None,
        "about": "Set-up and invite links work once, until they expire; an admin can send a "
        "new invite.",
    }
    return await page(request, "link_closed.html", values, status=status)


async def _form(
    request: Request,
    ctx: Any,
    kind: AccountTokenKind,
    token: str,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    try:
        opened = await service.open_account_link(ctx, token, kind)
    except NotFound:
        return await _closed(request, "Check that you copied the whole link.", 404)
    if opened.state is not TokenState.valid:
        return await _closed(request, _CLOSED[opened.state], 410)
    values = {
        **_TEXT[kind],
        "action": f"/{kind.value}/{token}",
        "ask_identity": kind is AccountTokenKind.setup,
        "who": opened.user,
        "sent": sent or {"email": "", "name": ""},
        "errors": errors or {},
        "min_length": MIN_LENGTH,
    }
    return await page(request, "account_form.html", values, status=status)


def _errors(exc: ValidationFailed) -> dict[str, str]:
    return {e.field.removeprefix("form.").removeprefix("body."): e.message for e in exc.errors} or {
        "form": exc.detail
    }


async def _finish(
    request: Request, ctx: Any, kind: AccountTokenKind, token: str, target: str
) -> Response:
    sent = {
        "email": (await form_text(request, "email")).strip(),
        "name": (await form_text(request, "name")).strip(),
    }
    password = await form_text(request, "password")
    try:
        if password != await form_text(request, "password2"):
            raise ValidationFailed.field("password2", "the two passwords differ")
        if kind is AccountTokenKind.setup:
            user = await service.complete_setup(ctx, token, sent["email"], sent["name"], password)
        else:
            user = await service.accept_invite(ctx, token, password)
    except ValidationFailed as exc:
        return await _form(request, ctx, kind, token, _errors(exc), sent, status=422)
    except (Conflict, Forbidden):
        return await _form(request, ctx, kind, token, status=409)
    response = RedirectResponse(target, status_code=303)
    await start_session(request, ctx, response, user.email, password)
    return response


@router.get("/setup/{token}")
async def setup_page(request: Request, token: str, ctx: Ctx) -> Response:
    return await _form(request, ctx, AccountTokenKind.setup, token)


@router.post("/setup/{token}")
async def setup(request: Request, token: str, ctx: Ctx) -> Response:
    return await _finish(request, ctx, AccountTokenKind.setup, token, "/admin/users")


@router.get("/invite/{token}")
async def invite_page(request: Request, token: str, ctx: Ctx) -> Response:
    return await _form(request, ctx, AccountTokenKind.invite, token)


@router.post("/invite/{token}")
async def accept_invite(request: Request, token: str, ctx: Ctx) -> Response:
    return await _finish(request, ctx, AccountTokenKind.invite, token, "/")
