"""One-time tokens: review links (signed, bound to a request and a reviewer) and account links
(first-admin setup, invites). No I/O: the service layer stores what these functions make.

A token is `<id>.<nonce>.<signature>`: the id finds the stored row, the row keeps only the
token's SHA-256 (a database reader cannot rebuild a link), and the signature, an HMAC with a
server key over everything the link is bound to, makes a token whose id or binding was changed
worthless even before the row is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TokenState(StrEnum):
    valid = "valid"
    expired = "expired"
    spent = "spent"
    revoked = "revoked"


@dataclass(frozen=True)
class LinkReviewer:
    """Who a review link is for: a user (by id), or a person known only by email and name."""

    email: str
    name: str
    user_id: str | None = None


@dataclass(frozen=True)
class ReviewLink:
    id: str
    request_id: str
    reviewer: LinkReviewer
    content_hash: str  # what the request said when the link was made
    expires_at: datetime
    created_at: datetime
    created_by: dict[str, object]
    spent_at: datetime | None = None
    vote_id: str | None = None
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> TokenState:
        return token_state(self.revoked_at, self.spent_at, self.expires_at, now)


class AccountTokenKind(StrEnum):
    setup = "setup"  # makes the first admin
    invite = "invite"  # sets an invited user's password


@dataclass(frozen=True)
class AccountToken:
    id: str
    kind: AccountTokenKind
    user_id: str | None
    expires_at: datetime
    created_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> TokenState:
        return token_state(self.revoked_at, self.used_at, self.expires_at, now)


def token_state(
    revoked_at: datetime | None, spent_at: datetime | None, expires_at: datetime, now: datetime
) -> TokenState:
    # Spent before revoked: someone who decided and later finds the link revoked should read
    # that their decision counted.
    if spent_at is not None:
        return TokenState.spent
    if revoked_at is not None:
        return TokenState.revoked
    if now >= expires_at:
        return TokenState.expired
    return TokenState.valid


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def new_nonce() -> str:
    return _b64(secrets.token_bytes(16))


def token_hash(token: str) -> str:
    """What is stored of a token: tokens carry 128+ random bits, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str, str] | None:
    """`(id, nonce, signature)`, or None for anything not shaped like a token."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or len(token) > 200:
        return None
    return parts[0], parts[1], parts[2]


def _link_signature(key: bytes, link: ReviewLink, nonce: str) -> str:
    bound = "\n".join(
        [
            link.id,
            nonce,
            link.request_id,
            link.reviewer.user_id or "",
            link.reviewer.email.casefold(),
            link.content_hash,
            link.expires_at.isoformat(),
        ]
    )
    return _b64(hmac.new(key, bound.encode(), hashlib.sha256).digest())


def link_token(key: bytes, link: ReviewLink, nonce: str) -> str:
    return f"{link.id}.{nonce}.{_link_signature(key, link, nonce)}"


def link_token_matches(key: bytes, link: ReviewLink, token: str, stored_hash: str) -> bool:
    """The token is the one made for this link, and the link's binding is as it was signed."""
    parts = split_token(token)
    if parts is None or parts[0] != link.id:
        return False
    expected = _link_signature(key, link, parts[1])
    return hmac.compare_digest(expected, parts[2]) and hmac.compare_digest(
        token_hash(token), stored_hash
    )


def account_token(key: bytes, token_id: str, kind: AccountTokenKind, nonce: str) -> str:
    mac = hmac.new(key, f"{token_id}\n{kind.value}\n{nonce}".encode(), hashlib.sha256).digest()
    return f"{token_id}.{nonce}.{_b64(mac)}"


def account_token_matches(key: bytes, found: AccountToken, token: str, stored_hash: str) -> bool:
    parts = split_token(token)
    if parts is None or parts[0] != found.id:
        return False
    expected = account_token(key, found.id, found.kind, parts[1])
    return hmac.compare_digest(expected, token) and hmac.compare_digest(
        token_hash(token), stored_hash
    )
