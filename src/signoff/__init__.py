"""Signoff: human-in-the-loop approvals for workflows and AI agents.

The names here are the SDK's (`signoff.client`); see its docstring for the error tree.
`import signoff` stays light: it loads no server library (FastAPI, SQLAlchemy), only httpx.
"""

__version__ = "0.1.0"

from .client import (
    AsyncClient,
    Cancelled,
    ChangesRequested,
    Client,
    ConnectionFailed,
    Decision,
    Expired,
    NotApproved,
    Rejected,
    ReviewRoundsExhausted,
    SignoffError,
    WaitTimeout,
    approval,
    areview_until_approved,
    require_approval,
    review_until_approved,
)

__all__ = [
    "AsyncClient",
    "Cancelled",
    "ChangesRequested",
    "Client",
    "ConnectionFailed",
    "Decision",
    "Expired",
    "NotApproved",
    "Rejected",
    "ReviewRoundsExhausted",
    "SignoffError",
    "WaitTimeout",
    "__version__",
    "approval",
    "areview_until_approved",
    "require_approval",
    "review_until_approved",
]
