"""Review links: a signed URL that lets one reviewer, with or without an account, decide one
request. Opening a link reads; only `vote_by_link` (a POST with the page's CSRF token in the web
app) decides, and the vote spends the link in the same transaction.

Whom a link-vote is from, in the audit trail: `{"type": "link", "link_id", "email", "name",
"user_id"?}`. A link made for a user (or for an email a user has) votes as that user, so one
person cannot vote twice through a link and their account; a link for someone without an
account votes as their email (`email_voter_id`). The self-approval ban applies as on every
path: a link made for the requester's own email or user cannot approve.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.ids import new_id
from ..domain.model import SYSTEM, LinkGrant, Principal, Request, Role, User, Vote
from ..domain.tokens import (
    LinkReviewer,
    ReviewLink,
    TokenState,
    link_token,
    link_token_matches,
    new_nonce,
    split_token,
    token_hash,
)
from ..domain.voting import Ballot, VoteVerdict, check_seen_hash
from ..errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from ..store import links as store
from ..store import loops as loop_store
from ..store import requests as request_store
from ..store import users as user_store
from ..store import webhooks as secret_store
from ..store.db import Conn
from .context import Context, transaction
from .requests import _load, check_can_read
from .views import rfc3339
from .votes import vote_in

LINK_KEY = "review_link_key"
DEFAULT_TTL = timedelta(days=7)
MAX_TTL = timedelta(days=30)


@dataclass(frozen=True)
class IssuedLink:
    link: ReviewLink
    url: str  # holds the token: give it to the reviewer, show it nowhere else


@dataclass(frozen=True)
class OpenedLink:
    """What a link shows. `state` says whether it can still decide; `content_changed` whether
    the request changed after the link was made (the page must say so before any decision)."""

    link: ReviewLink
    request: Request
    state: TokenState
    content_changed: bool
    votes: list[Vote]
    principal: Principal  # who reads and votes through the link


def link_url(ctx: Context, token: str) -> str:
    return f"{ctx.public_url.rstrip('/')}/r/{token}"


async def _key(conn: Conn, now: datetime) -> bytes:
    made = secrets.token_urlsafe(32)
    return (await secret_store.server_secret(conn, LINK_KEY, made, now)).encode()


async def issue_review_link(
    ctx: Context,
    request_id: str,
    reviewer: str | LinkReviewer,
    ttl: timedelta = DEFAULT_TTL,
    *,
    actor: Principal = SYSTEM,
) -> IssuedLink:
    """A link for `reviewer` (a user id, or a LinkReviewer for someone without an account).

    An admin (or the system, e.g. for notifications) may send a link to anyone; a requester only
    to a reviewer of the request's loop, so that a workflow cannot invent a reviewer to approve
    its own request.
    """
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise ValidationFailed.field(
            "body.expires_in", f"must be between 1 second and {int(MAX_TTL.total_seconds())}"
        )
    async with transaction(ctx) as tx:
        request = await _load(tx.conn, request_id)
        if not request.is_pending:
            raise InvalidTransition(
                f"request {request_id} is {request.status.value}; nothing is left to review"
            )
        bound = await _bind_reviewer(tx.conn, reviewer)
        if actor.role is Role.requester:
            loop = await loop_store.get_loop(tx.conn, request.loop_id)
            if bound.user_id is None or loop is None or bound.user_id not in loop.reviewers:
                raise Forbidden(
                    f"a requester can send review links only to reviewers of loop {request.loop_id}"
                )
        link = ReviewLink(
            id=new_id("rlk", tx.now),
            request_id=request_id,
            reviewer=bound,
            content_hash=request.content_hash,
            expires_at=tx.now + ttl,
            created_at=tx.now,
            created_by=actor.actor(),
        )
        token = link_token(await _key(tx.conn, tx.now), link, new_nonce())
        await store.insert_link(tx.conn, link, token_hash(token))
        tx.record(
            "review_link.issued",
            actor.actor(),
            {**link_snapshot(link), "loop_id": request.loop_id},
            request_id=request_id,
            loop_id=request.loop_id,
        )
    return IssuedLink(link, link_url(ctx, token))


async def _bind_reviewer(conn: Conn, reviewer: str | LinkReviewer) -> LinkReviewer:
    """The reviewer as the link stores it; an email that belongs to a user binds to the user."""
    if isinstance(reviewer, str):
        user = await user_store.get_user(conn, reviewer)
        if user is None:
            raise ValidationFailed.field("body.user_id", f"no user with id {reviewer!r}")
    else:
        email = reviewer.email.strip().lower()
        user = await user_store.get_user_by_email(conn, email)
        if user is None:
            return LinkReviewer(email=email, name=reviewer.name.strip() or email)
    if not user.active:
        raise ValidationFailed.field("body.user_id", f"user {user.id} is deactivated")
    return LinkReviewer(email=user.email, name=user.name, user_id=user.id)


def link_snapshot(link: ReviewLink) -> dict[str, object]:
    return {
        "link_id": link.id,
        "request_id": link.request_id,
        "user_id": link.reviewer.user_id,
        "email": link.reviewer.email,
        "name": link.reviewer.name,
        "content_hash": link.content_hash,
        "expires_at": rfc3339(link.expires_at),
    }


async def _resolve(conn: Conn, token: str) -> ReviewLink:
    """The link a token stands for; NotFound for anything tampered with or made up."""
    invalid = NotFound("this review link is not valid; ask for a new one")
    parts = split_token(token)
    if parts is None:
        raise invalid
    found = await store.get_link_for_token(conn, parts[0])
    key = await secret_store.read_server_secret(conn, LINK_KEY)
    if found is None or key is None:
        raise invalid
    link, stored = found
    if not link_token_matches(key.encode(), link, token, stored):
        raise invalid
    return link


async def _state(conn: Conn, link: ReviewLink, now: datetime) -> tuple[TokenState, User | None]:
    state = link.state(now)
    user = None
    if link.reviewer.user_id:
        user = await user_store.get_user(conn, link.reviewer.user_id)
        if state is TokenState.valid and (user is None or not user.active):
            state = TokenState.revoked  # a deactivated user's links stop working
    return state, user


async def open_review_link(ctx: Context, token: str) -> OpenedLink:
    """What the link's page shows. Reads only: opening a link never decides or spends it."""
    async with ctx.db.read() as conn:
        link = await _resolve(conn, token)
        state, user = await _state(conn, link, ctx.clock())
        request = await _load(conn, link.request_id)
        votes = await request_store.live_votes(conn, request.id)
    return OpenedLink(
        link=link,
        request=request,
        state=state,
        content_changed=request.content_hash != link.content_hash,
        votes=votes,
        principal=link_principal(link, user),
    )


_REFUSED = {
    TokenState.spent: "this review link was already used to decide",
    TokenState.revoked: "this review link was revoked",
    TokenState.expired: "this review link has expired; ask for a new one",
}


def link_principal(link: ReviewLink, user: User | None) -> Principal:
    return Principal(
        role=Role.reviewer,
        user_id=user.id if user else None,
        user_email=link.reviewer.email,
        name=link.reviewer.name,
        link=LinkGrant(link.id, link.request_id),
    )


async def vote_by_link(
    ctx: Context, token: str, ballot: Ballot
) -> tuple[Request, VoteVerdict, Vote]:
    """Decide through a link: one vote, and the link spent by it, in one transaction.

    The ballot must carry the content hash the page showed: a vote is bound to what the
    reviewer read, and a link whose request changed since it was opened is refused.
    """
    if not ballot.content_hash:
        raise ValidationFailed.field(
            "body.content_hash", "send the content hash of the version you read"
        )
    check_seen_hash(ballot.content_hash)  # before the link's state: bad input first
    async with transaction(ctx) as tx:
        link = await _resolve(tx.conn, token)
        state, user = await _state(tx.conn, link, tx.now)
        if state is not TokenState.valid:
            error = Conflict if state is TokenState.spent else Forbidden
            raise error(_REFUSED[state])
        request, verdict, cast = await vote_in(
            tx, link_principal(link, user), link.request_id, ballot
        )
        if not await store.spend_link(tx.conn, link.id, cast.id, tx.now):
            raise Conflict(_REFUSED[TokenState.spent])
    return request, verdict, cast


async def list_review_links(ctx: Context, actor: Principal, request_id: str) -> list[ReviewLink]:
    async with ctx.db.read() as conn:
        request = await _load(conn, request_id)
        await check_can_read(conn, actor, request, ctx.clock())
        return await store.list_links(conn, request_id)


async def revoke_review_link(
    ctx: Context, actor: Principal, request_id: str, link_id: str
) -> ReviewLink:
    async with transaction(ctx) as tx:
        link = await store.get_link(tx.conn, link_id)
        if link is None or link.request_id != request_id:
            raise NotFound(f"request {request_id} has no review link {link_id!r}")
        if await store.revoke_link(tx.conn, link_id, tx.now):
            request = await _load(tx.conn, request_id)
            tx.record(
                "review_link.revoked",
                actor.actor(),
                {**link_snapshot(link), "loop_id": request.loop_id},
                request_id=request_id,
                loop_id=request.loop_id,
            )
        link = await store.get_link(tx.conn, link_id)
        assert link is not None
    return link
