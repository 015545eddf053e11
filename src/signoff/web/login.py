"""Signing in and out."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ..errors import RateLimited, Unauthenticated
from ..service import sessions as service
from ..service.context import Context
from .auth import COOKIE, Ctx, is_secure, session_of
from .render import page
from .routing import form_text, local_path, web_router

router = web_router()


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    if await session_of(request):
        return RedirectResponse(local_path(next), status_code=303)
    return await page(request, "login.html", {"next": local_path(next), "error": None, "email": ""})


@router.post("/login")
async def login(request: Request, ctx: Ctx) -> Response:
    email = await form_text(request, "email")
    password = await form_text(request, "password")
    target = local_path(await form_text(request, "next"))
    try:
        signed_in = await service.sign_in(
            ctx, email, password, _address(request), replacing=request.cookies.get(COOKIE)
        )
    except (Unauthenticated, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        message = exc.detail[0].upper() + exc.detail[1:] + "."
        values = {"next": target, "error": message, "email": email}
        return await page(request, "login.html", values, status=status)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, signed_in)
    return response


def set_session_cookie(request: Request, response: Response, signed_in: service.SignedIn) -> None:
    response.set_cookie(
        COOKIE,
        signed_in.token,
        max_age=int(service.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path="/",
    )


async def start_session(
    request: Request, ctx: Context, response: Response, email: str, password: str
) -> None:
    """Sign in someone who just chose their password (setup and invite pages)."""
    signed_in = await service.sign_in(
        ctx, email, password, _address(request), replacing=request.cookies.get(COOKIE)
    )
    set_session_cookie(request, response, signed_in)


@router.post("/logout")
async def logout(request: Request, ctx: Ctx) -> Response:
    await service.sign_out(ctx, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
