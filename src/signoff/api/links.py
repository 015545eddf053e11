"""/v1/requests/{id}/review-links: signed links for reviewers, with or without an account."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter

from ..domain.tokens import LinkReviewer, ReviewLink
from ..errors import ValidationFailed
from ..service import review_links as service
from .deps import Ctx, Writer
from .idempotency import IdempotentRoute
from .schemas import CreatedReviewLinkOut, Page, ReviewLinkIn, ReviewLinkOut

router = APIRouter(tags=["review links"], route_class=IdempotentRoute)


def link_out(link: ReviewLink, now: datetime) -> ReviewLinkOut:
    return ReviewLinkOut(
        id=link.id,
        request_id=link.request_id,
        user_id=link.reviewer.user_id,
        email=link.reviewer.email,
        name=link.reviewer.name,
        state=link.state(now).value,
        content_hash=link.content_hash,
        expires_at=link.expires_at,
        created_at=link.created_at,
        spent_at=link.spent_at,
        vote_id=link.vote_id,
        revoked_at=link.revoked_at,
    )


def _reviewer(body: ReviewLinkIn) -> str | LinkReviewer:
    if body.user_id is not None and body.email is not None:
        raise ValidationFailed.field("body.email", "give either user_id or email, not both")
    if body.user_id is not None:
        return body.user_id
    if body.email is None:
        raise ValidationFailed.field("body.user_id", "give the user_id or the email of a reviewer")
    return LinkReviewer(email=body.email, name=(body.name or "").strip())


@router.post("/v1/requests/{request_id}/review-links", status_code=201)
async def issue_link(
    request_id: str, body: ReviewLinkIn, ctx: Ctx, caller: Writer
) -> CreatedReviewLinkOut:
    issued = await service.issue_review_link(
        ctx, request_id, _reviewer(body), timedelta(seconds=body.expires_in), actor=caller
    )
    out = link_out(issued.link, ctx.clock())
    return CreatedReviewLinkOut(**out.model_dump(), url=issued.url)


@router.get("/v1/requests/{request_id}/review-links")
async def list_links(request_id: str, ctx: Ctx, caller: Writer) -> Page[ReviewLinkOut]:
    found = await service.list_review_links(ctx, caller, request_id)
    now = ctx.clock()
    return Page(data=[link_out(link, now) for link in found], next_cursor=None)


@router.delete("/v1/requests/{request_id}/review-links/{link_id}")
async def revoke_link(request_id: str, link_id: str, ctx: Ctx, caller: Writer) -> ReviewLinkOut:
    link = await service.revoke_review_link(ctx, caller, request_id, link_id)
    return link_out(link, ctx.clock())
