"""The SDK's own errors: what happens on the caller's side of the wire."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import SignoffError
from ._models import Decision


class ConnectionFailed(SignoffError):
    """Signoff could not be reached (refused, reset, timed out), and the retries ran out."""

    slug = "connection-failed"
    title = "Signoff could not be reached"


class WaitTimeout(SignoffError):
    """`wait` gave up: the request is still pending. Waiting again later is fine."""

    slug = "wait-timeout"
    title = "No decision within the time given"

    def __init__(self, request_id: str, timeout: float) -> None:
        super().__init__(f"request {request_id} is still pending after waiting {timeout:g} s")
        self.request_id = request_id
        self.timeout = timeout


class NotApproved(SignoffError):
    """The request ended without approval; `decision` is how it ended."""

    slug = "not-approved"
    title = "The request was not approved"

    def __init__(self, decision: Decision, detail: str | None = None) -> None:
        outcome = decision.decision or decision.status
        super().__init__(detail or _describe(decision, outcome))
        self.decision = decision
        self.request_id = decision.request_id
        self.feedback = decision.feedback
        self.decided_by = decision.decided_by or []


class Rejected(NotApproved):
    slug = "rejected"
    title = "The request was rejected"


class ChangesRequested(NotApproved):
    slug = "changes-requested"
    title = "The reviewer asked for changes"


class Expired(NotApproved):
    """The request timed out without a decision: silence is not consent."""

    slug = "expired"
    title = "The request timed out"


class Cancelled(NotApproved):
    slug = "cancelled"
    title = "The request was cancelled"


class ReviewRoundsExhausted(NotApproved):
    """`review_until_approved` asked `rounds` times and was never approved; `decision` is the
    last answer and `history` every answer, oldest first."""

    slug = "review-rounds-exhausted"
    title = "Not approved within the rounds allowed"

    def __init__(self, history: Sequence[Decision]) -> None:
        last = history[-1]
        rounds = len(history)
        super().__init__(
            last,
            f"not approved after {rounds} round{'s' * (rounds != 1)}: the last answer to "
            f"request {last.request_id} was {last.decision or last.status}"
            + (f" ({last.feedback})" if last.feedback else ""),
        )
        self.history = list(history)
        self.rounds = rounds


def _describe(decision: Decision, outcome: str) -> str:
    said = f": {decision.feedback}" if decision.feedback else ""
    return f"request {decision.request_id} ended {outcome}{said}"


def not_approved(decision: Decision) -> NotApproved:
    """The error for a request that left `pending` without approval."""
    if decision.decision == "rejected":
        return Rejected(decision)
    if decision.decision == "needs_changes":
        return ChangesRequested(decision)
    if decision.status == "timed_out":
        return Expired(decision)
    if decision.status == "cancelled":
        return Cancelled(decision)
    return NotApproved(decision)
