"""The errors Signoff raises, shared by the server and the client SDK.

    SignoffError
     ├── NotFound             the thing named does not exist (or is not yours to see)
     ├── Unauthenticated      no credentials, or credentials that are wrong or revoked
     ├── Forbidden            the credentials are fine but the role or policy says no
     ├── Conflict             the state of the thing does not allow it
     │    └── InvalidTransition   a request that left `pending` cannot change again
     ├── ValidationFailed     the input is well-formed but wrong; carries the fields
     └── PayloadTooLarge      the body is over the configured limit

Each error names its stable problem `type` slug; `api/problems.py` alone maps them to HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One offending field: a dotted path such as `body.items.3.content`, and what is wrong."""

    field: str
    message: str


class SignoffError(Exception):
    slug = "error"
    title = "Something went wrong"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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
