"""Review links and one-time account tokens (setup, invites)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.tokens import AccountToken, AccountTokenKind, LinkReviewer, ReviewLink
from ._rows import utc, utc_or_none
from .db import Conn
from .tables import account_tokens, review_links

_LINK_PUBLIC = [c for c in review_links.c if c.name != "token_hash"]


def _link(row: Any) -> ReviewLink:
    return ReviewLink(
        id=row.id,
        request_id=row.request_id,
        reviewer=LinkReviewer(email=row.email, name=row.name, user_id=row.user_id),
        content_hash=row.content_hash,
        expires_at=utc(row.expires_at),
        created_at=utc(row.created_at),
        created_by=row.created_by,
        spent_at=utc_or_none(row.spent_at),
        vote_id=row.vote_id,
        revoked_at=utc_or_none(row.revoked_at),
    )


async def insert_link(conn: Conn, link: ReviewLink, token_hash: str) -> None:
    await conn.execute(
        review_links.insert().values(
            id=link.id,
            request_id=link.request_id,
            user_id=link.reviewer.user_id,
            email=link.reviewer.email,
            name=link.reviewer.name,
            content_hash=link.content_hash,
            token_hash=token_hash,
            expires_at=link.expires_at,
            created_at=link.created_at,
            created_by=link.created_by,
        )
    )


async def get_link(conn: Conn, link_id: str) -> ReviewLink | None:
    query = sa.select(*_LINK_PUBLIC).where(review_links.c.id == link_id)
    row = (await conn.execute(query)).first()
    return _link(row) if row else None


async def get_link_for_token(conn: Conn, link_id: str) -> tuple[ReviewLink, str] | None:
    """The link and its stored token hash, to check a token against."""
    row = (await conn.execute(sa.select(review_links).where(review_links.c.id == link_id))).first()
    return (_link(row), row.token_hash) if row else None


async def list_links(conn: Conn, request_id: str) -> list[ReviewLink]:
    query = (
        sa.select(*_LINK_PUBLIC)
        .where(review_links.c.request_id == request_id)
        .order_by(review_links.c.id)
    )
    return [_link(r) for r in await conn.execute(query)]


def _close_open(where: sa.ColumnElement[bool], **values: Any) -> sa.Update:
    """An update of the links matching `where` that are still open (neither spent nor
    revoked): the guard in the statement itself, so a link closes once whoever races."""
    return (
        review_links.update()
        .where(where, review_links.c.spent_at.is_(None), review_links.c.revoked_at.is_(None))
        .values(**values)
    )


async def spend_link(conn: Conn, link_id: str, vote_id: str, now: datetime) -> bool:
    """Mark the link used by `vote_id`; False when it was spent or revoked meanwhile."""
    query = _close_open(review_links.c.id == link_id, spent_at=now, vote_id=vote_id)
    return (await conn.execute(query)).rowcount == 1


async def revoke_link(conn: Conn, link_id: str, now: datetime) -> bool:
    query = _close_open(review_links.c.id == link_id, revoked_at=now)
    return (await conn.execute(query)).rowcount == 1


async def revoke_user_links(conn: Conn, user_id: str, now: datetime) -> int:
    query = _close_open(review_links.c.user_id == user_id, revoked_at=now)
    return int((await conn.execute(query)).rowcount)


def _account_token(row: Any) -> AccountToken:
    return AccountToken(
        id=row.id,
        kind=AccountTokenKind(row.kind),
        user_id=row.user_id,
        expires_at=utc(row.expires_at),
        created_at=utc(row.created_at),
        used_at=utc_or_none(row.used_at),
        revoked_at=utc_or_none(row.revoked_at),
    )


async def insert_account_token(conn: Conn, token: AccountToken, token_hash: str) -> None:
    await conn.execute(
        account_tokens.insert().values(
            id=token.id,
            kind=token.kind.value,
            user_id=token.user_id,
            token_hash=token_hash,
            expires_at=token.expires_at,
            created_at=token.created_at,
        )
    )


async def get_account_token(conn: Conn, token_id: str) -> tuple[AccountToken, str] | None:
    query = sa.select(account_tokens).where(account_tokens.c.id == token_id)
    row = (await conn.execute(query)).first()
    return (_account_token(row), row.token_hash) if row else None


async def use_account_token(conn: Conn, token_id: str, now: datetime) -> bool:
    """Spend the token once; False when it was used or revoked meanwhile."""
    result = await conn.execute(
        account_tokens.update()
        .where(
            account_tokens.c.id == token_id,
            account_tokens.c.used_at.is_(None),
            account_tokens.c.revoked_at.is_(None),
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


async def revoke_account_tokens(
    conn: Conn, now: datetime, *, kind: AccountTokenKind, user_id: str | None = None
) -> int:
    """Revoke the unused tokens of a kind (of one user, when given)."""
    query = account_tokens.update().where(
        account_tokens.c.kind == kind.value,
        account_tokens.c.used_at.is_(None),
        account_tokens.c.revoked_at.is_(None),
    )
    if user_id is not None:
        query = query.where(account_tokens.c.user_id == user_id)
    result = await conn.execute(query.values(revoked_at=now))
    return int(result.rowcount)
