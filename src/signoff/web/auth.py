"""Who is signed in: the session cookie, the current user, and role checks for web routes.

Routes take `CurrentSession` (any signed-in user) or `AdminSession`; without a session a page
redirects to the sign-in form and comes back afterwards.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from ..domain.model import UserRole
from ..errors import Forbidden, SignoffError
from ..service.context import Context
from ..service.sessions import WebSession, session_for

COOKIE = "signoff_session"


class SignInRequired(SignoffError):
    """Raised by a page that needs a session; the error handler redirects to /login."""

    slug = "unauthenticated"
    title = "Please sign in"

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in to see this page")
        self.next_path = next_path


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def session_of(request: Request) -> WebSession | None:
    """The browser's live session, looked up once per HTTP request."""
    if not hasattr(request.state, "web_session"):
        token = request.cookies.get(COOKIE)
        request.state.web_session = await session_for(context(request), token)
    found: WebSession | None = request.state.web_session
    return found


def _here(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


async def current_session(request: Request) -> WebSession:
    session = await session_of(request)
    if session is None:
        raise SignInRequired(_here(request) if request.method in ("GET", "HEAD") else "/")
    return session


async def admin_session(request: Request) -> WebSession:
    session = await current_session(request)
    if session.user.role is not UserRole.admin:
        raise Forbidden("only an admin may open this page")
    return session


def login_url(next_path: str) -> str:
    return "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='/')}"


def is_secure(request: Request) -> bool:
    """Cookies are Secure when the browser reached us over HTTPS, or the public URL is."""
    return request.url.scheme == "https" or context(request).public_url.startswith("https://")


CurrentSession = Annotated[WebSession, Depends(current_session)]
AdminSession = Annotated[WebSession, Depends(admin_session)]
Ctx = Annotated[Context, Depends(context)]
