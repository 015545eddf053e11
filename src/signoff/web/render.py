"""Pages from Jinja templates, with what every page needs: the user, the CSRF token, the
security headers, and the filters that show times the same way everywhere."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from .. import __version__ as version
from . import csrf, flash
from .auth import is_secure, session_of

HERE = Path(__file__).parent
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)

# Scripts and styles only from this server; content images may come from anywhere (an
# `image_url` request); sanitized HTML content lives in a sandboxed srcdoc frame.
CSP = (
    "default-src 'self'; img-src 'self' https: http: data:; style-src 'self'; "
    "script-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def duration(seconds: float) -> str:
    """`3 d 4 h`, `2 h 5 min`, `4 min`, `less than a minute`."""
    seconds = abs(seconds)
    minutes = int(seconds // 60)
    if minutes < 1:
        return "less than a minute"
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def time_left(deadline: datetime | None, now: datetime) -> str:
    if deadline is None:
        return "no deadline"
    left = (deadline - now).total_seconds()
    return f"{duration(left)} left" if left > 0 else f"overdue by {duration(left)}"


def age(created: datetime, now: datetime) -> str:
    return f"{duration((now - created).total_seconds())} ago"


def utc_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def sentence(text: str) -> str:
    """A service's message (`no request with id 'x'`) as a sentence on a page."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")


def approvals_text(approvals: int, required: int) -> str:
    """`1 of 2 approvals`: the review page's progress, rendered and live-updated alike."""
    return f"{approvals} of {required} approval{'s' if required != 1 else ''}"


def still_needed_text(approvals: int, required: int) -> str:
    left = max(required - approvals, 0)
    return f"It needs {left} more approval{'s' if left != 1 else ''} from other reviewers."


TEMPLATES.globals.update(
    time_left=time_left,
    age=age,
    version=version,
    approvals_text=approvals_text,
    still_needed_text=still_needed_text,
)
TEMPLATES.filters.update(utc=utc_text, iso=iso, duration=duration, sentence=sentence)


async def page(
    request: Request, template: str, values: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render `template` with `values` and what every page shows."""
    session = await session_of(request)
    token = await csrf.token_for(request)
    body = TEMPLATES.get_template(template).render(
        {
            "user": session.user if session else None,
            "csrf_token": token,
            "path": request.url.path,
            "now": request.app.state.ctx.clock(),
            **(values or {}),
        }
    )
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    flash.forget(request, response)
    if session is None and request.cookies.get(csrf.COOKIE) != token:
        response.set_cookie(
            csrf.COOKIE, token, httponly=True, samesite="lax", secure=is_secure(request), path="/"
        )
    return response


def fragment(template: str, values: dict[str, Any]) -> str:
    return TEMPLATES.get_template(template).render(values)
