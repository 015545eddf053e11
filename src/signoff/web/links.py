"""The review-link page `/r/{token}`: a reviewer without an account reads and decides one request.

Looking is not deciding: GET and HEAD (mail scanners, chat unfurlers, link previews) only read.
A decision is a POST from the page, with the page's CSRF token (double submit: there is no
session), and goes through `service.review_links.vote_by_link`, which spends the link in the
vote's transaction. The form carries the content hash the page showed, so a vote is bound to
what the reviewer read; a link whose request changed since it was sent says so first.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from ..domain.model import ResponseType
from ..domain.tokens import TokenState
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..service import review as review_service
from ..service import review_links as service
from . import content as show
from .auth import Ctx
from .forms import fields_of
from .render import page
from .review import REFUSED, _ballot, _request_events, _values, answer_errors
from .routing import form_text, web_router

router = web_router()

_CLOSED = {
    TokenState.expired: (410, "This review link has expired", "Ask whoever sent it for a new one."),
    TokenState.revoked: (
        410,
        "This review link no longer works",
        "It was revoked, or the person it was made for no longer has access. "
        "Ask whoever sent it for a new one.",
    ),
    TokenState.spent: (200, "This review link was used", "A decision was made through it."),
}
_DONE = {
    "approved": "Thank you: the request is approved.",
    "rejected": "Thank you: the request is rejected.",
    "needs_changes": "Thank you: you asked for changes.",
    "voted": "Thank you: your vote is recorded. The request needs more approvals.",
}


async def _invalid(request: Request) -> Response:
    values = {
        "heading": "This review link is not valid",
        "detail": "Check that you copied the whole link, or ask whoever sent it for a new one.",
        "opened": None,
        "done": None,
    }
    return await page(request, "link_closed.html", values, status=404)


async def _page(
    request: Request, ctx: Any, token: str, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    try:
        opened = await service.open_review_link(ctx, token)
    except NotFound:
        return await _invalid(request)
    if opened.state is not TokenState.valid:
        code, heading, detail = _CLOSED[opened.state]
        done = _DONE.get(request.query_params.get("done", ""))
        values = {"heading": heading, "detail": detail, "opened": opened, "done": done}
        return await page(request, "link_closed.html", values, status=code)
    review = await review_service.review(ctx, opened.principal, opened.request.id)
    values = _values(review, opened.principal)
    extra = dict(extra or {})
    if opened.content_changed and opened.request.is_pending:
        changed = (
            "The request changed after this link was sent to you. Read it again: "
            "your decision applies to what this page shows now."
        )
        extra["banner"] = f"{extra['banner']} {changed}" if extra.get("banner") else changed
        extra.setdefault("banner_kind", "warn")
    values.update(
        link=opened.link,
        decide_action=f"/r/{token}",
        stream_url=f"/r/{token}/stream?hash={opened.request.content_hash}",
        **extra,
    )
    return await page(request, "review.html", values, status=status)


@router.get("/r/{token}")
async def link_page(request: Request, token: str, ctx: Ctx) -> Response:
    """Read only, whoever asks: opening a link never decides and never spends it."""
    return await _page(request, ctx, token)


@router.post("/r/{token}")
async def decide_by_link(request: Request, token: str, ctx: Ctx) -> Response:
    try:
        opened = await service.open_review_link(ctx, token)
    except NotFound:
        return await _invalid(request)
    if opened.state is not TokenState.valid:
        return await _page(request, ctx, token)
    r = opened.request
    fields = fields_of(r.response.schema) if r.response.type is ResponseType.form else []
    draft: dict[str, Any] = {}
    try:
        ballot = await _ballot(request, r, fields, draft)
        if ballot.edited_content is not None and await form_text(request, "step") != "confirm":
            preview = show.diff(show.as_text(r.content, r.content_type), draft["edited_content"])
            return await _page(request, ctx, token, {"draft": draft, "preview": preview})
        decided, _, _ = await service.vote_by_link(ctx, token, ballot)
    except ValidationFailed as exc:
        extra = {
            "draft": draft,
            "errors": answer_errors(exc, r, draft),
            "banner": REFUSED,
            "banner_kind": "bad",
        }
        return await _page(request, ctx, token, extra, status=422)
    except (Conflict, Forbidden) as exc:
        extra = {
            "draft": draft,
            "banner": "Your decision was not recorded: " + exc.detail + ".",
            "banner_kind": "bad",
        }
        status = 409 if isinstance(exc, Conflict) else 403
        return await _page(request, ctx, token, extra, status=status)
    done = decided.decision.value if decided.decision else "voted"
    return RedirectResponse(f"/r/{token}?done={done}", status_code=303)


@router.get("/r/{token}/stream")
async def link_stream(token: str, ctx: Ctx, hash: str = "") -> Response:
    """The review page's live updates, for a link's reader (see review.request_stream)."""
    opened = await service.open_review_link(ctx, token)
    if opened.state is not TokenState.valid:
        raise NotFound("this review link no longer works")
    return StreamingResponse(
        _request_events(ctx, opened.principal, opened.request.id, hash),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
