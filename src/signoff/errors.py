"""The errors Signoff raises, shared by the server and the client SDK.

    SignoffError
     ├── NotFound             the thing named does not exist (or is not yours to see)
     ├── Unauthenticated      no credentials, or credentials that are wrong or revoked
     ├── Forbidden            the credentials are fine but the role or policy says no
     ├── Conflict             the state of the thing does not allow it
     │    ├── InvalidTransition   a request that left `pending` cannot change again
     │    └── IdempotencyKeyInUse the first call with this Idempotency-Key is still running
     ├── ValidationFailed     the input is well-formed but wrong; carries the fields
     ├── PayloadTooLarge      the body is over the configured limit
     ├── RateLimited          too many calls (429); the SDK raises it once its retries run out
     └── ServerError          the server failed (5xx); the SDK raises it once its retries run out

Each error names its stable problem `type` slug; `api/problems.py` alone maps them to HTTP.
The SDK (`signoff.client`) builds the same classes from the problem+json answers, and sets
`status` and `problem` (the answer's body) on them; a slug it does not know becomes a plain
`SignoffError` with that slug. Its own errors (`ConnectionFailed`, `WaitTimeout`, `Rejected`, …)
are drawn in `signoff/client/__init__.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROBLEM_TYPE_PREFIX = "urn:signoff:problem:"


@dataclass(frozen=True)
class FieldError:
    """One offending field: a dotted path such as `body.items.3.content`, and what is wrong."""

    field: str
    message: str


class SignoffError(Exception):
    slug = "error"
    title = "Something went wrong"
    # Set by the SDK on an error read from an answer: its HTTP status and problem+json body.
    status: int | None = None
    problem: Mapping[str, Any] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = []

    @property
    def problem_type(self) -> str:
        """The RFC 9457 `type`, e.g. `urn:signoff:problem:not-found`."""
        return PROBLEM_TYPE_PREFIX + self.slug


class NotFound(SignoffError):
    slug = "not-found"
    title = "Not found"


class Unauthenticated(SignoffError):
    slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(SignoffError):
    slug = "forbidden"
    title = "Forbidden"


class Conflict(SignoffError):
    slug = "conflict"
    title = "Conflict"


class InvalidTransition(Conflict):
    slug = "invalid-transition"
    title = "The request is no longer pending"


class IdempotencyKeyInUse(Conflict):
    """A distinct type so that a client knows to retry: the first call may yet succeed."""

    slug = "idempotency-key-in-use"
    title = "A call with this Idempotency-Key is still in progress"


class ValidationFailed(SignoffError):
    slug = "validation-failed"
    title = "The input is not valid"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(f"{field}: {message}", [FieldError(field, message)])


class PayloadTooLarge(SignoffError):
    slug = "payload-too-large"
    title = "The body is too large"


class RateLimited(SignoffError):
    slug = "rate-limited"
    title = "Too many requests"


class ServerError(SignoffError):
    slug = "internal"
    title = "Internal error"
