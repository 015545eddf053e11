"""The Python SDK: the whole API, and approval in one line.

    from signoff import Client, require_approval, Rejected

    @require_approval(loop="refunds", when=lambda amount, **_: amount > 100)
    def refund(order: int, amount: int) -> None: ...

    with Client() as signoff:                       # SIGNOFF_URL, SIGNOFF_API_KEY
        request = signoff.create_request(loop_id, "Refund $120 to Bob")
        decision = signoff.wait(request.id, timeout=3600)

Errors are one tree; the first part mirrors the server's problem types (`signoff.errors`):

    SignoffError                 status, problem_type, detail, errors (the fields), problem
     ├── NotFound · Unauthenticated · Forbidden · PayloadTooLarge
     ├── Conflict
     │    ├── InvalidTransition        the request is no longer pending
     │    └── IdempotencyKeyInUse      retried by the client; raised once retries run out
     ├── ValidationFailed          `errors`: [FieldError(field, message)]
     ├── RateLimited · ServerError raised once the retries run out
     ├── ConnectionFailed          Signoff unreachable, retries run out
     ├── WaitTimeout               `wait` gave up; `request_id`, `timeout`
     └── NotApproved               `decision`, `request_id`, `feedback`, `decided_by`
          ├── Rejected
          ├── ChangesRequested
          ├── Expired              the request timed out undecided
          ├── Cancelled
          └── ReviewRoundsExhausted    `history`, `rounds`

Importing this loads no server library (FastAPI, SQLAlchemy): only httpx.
"""

from ..errors import (
    Conflict,
    FieldError,
    Forbidden,
    IdempotencyKeyInUse,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    SignoffError,
    Unauthenticated,
    ValidationFailed,
)
from ._approval import Approval, approval, require_approval
from ._async import AsyncClient
from ._errors import (
    Cancelled,
    ChangesRequested,
    ConnectionFailed,
    Expired,
    NotApproved,
    Rejected,
    ReviewRoundsExhausted,
    WaitTimeout,
)
from ._models import (
    ApiKey,
    Attempt,
    Decision,
    Delivery,
    Event,
    Loop,
    Page,
    Request,
    RequestStatus,
    User,
    Vote,
    Webhook,
)
from ._review import areview_until_approved, review_until_approved
from ._sync import Client

__all__ = [
    "ApiKey",
    "Approval",
    "AsyncClient",
    "Attempt",
    "Cancelled",
    "ChangesRequested",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Decision",
    "Delivery",
    "Event",
    "Expired",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyInUse",
    "InvalidTransition",
    "Loop",
    "NotApproved",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "RateLimited",
    "Rejected",
    "Request",
    "RequestStatus",
    "ReviewRoundsExhausted",
    "ServerError",
    "SignoffError",
    "Unauthenticated",
    "User",
    "ValidationFailed",
    "Vote",
    "WaitTimeout",
    "Webhook",
    "approval",
    "areview_until_approved",
    "require_approval",
    "review_until_approved",
]
