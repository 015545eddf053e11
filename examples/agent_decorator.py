"""A refund agent that needs a person's approval for refunds over a threshold.

The agent reads support tickets, decides what to refund (here a plain rule stands in for the
model), and calls `refund`. `@require_approval` makes every refund over $100 a review request
in the loop `refunds`: the call waits for the decision, then refunds what the reviewer approved
(a reviewer may lower the amount by editing the request), or raises:

- `Rejected`: the reviewer said no; `feedback` says why;
- `ChangesRequested`: the reviewer wants another proposal; here the ticket goes back to a
  person's queue with the feedback.

Run it against a running server (`signoff serve`) with a loop named `refunds` whose reviewers
will decide, and a requester key:

    export SIGNOFF_URL=http://127.0.0.1:8000 SIGNOFF_API_KEY=sk_...
    python examples/agent_decorator.py 4711:250:"kettle broke" 4712:40:"late delivery"

The ticket for $40 is refunded at once; the one for $250 waits for a reviewer (the URL of the
request is logged). Kill the agent while it waits and run it again: it finds the same request
and its decision instead of asking twice. `REFUND_LOOP` and `REFUND_THRESHOLD` change the loop
and the threshold.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from signoff import ChangesRequested, Rejected, require_approval

LOOP = os.environ.get("REFUND_LOOP", "refunds")
THRESHOLD = int(os.environ.get("REFUND_THRESHOLD", "100"))


@dataclass(frozen=True)
class Ticket:
    order: int
    amount: int
    complaint: str


def propose_refund(ticket: Ticket) -> tuple[int, str]:
    """What the agent would refund and why. A model call goes here; a rule stands in for it."""
    return ticket.amount, f"Customer reports: {ticket.complaint}"


@require_approval(
    loop=LOOP,
    when=lambda amount, **_: amount > THRESHOLD,
    title=lambda order, amount, **_: f"Refund ${amount} on order {order}",
    metadata=lambda order, **_: {"order": order, "agent": "refund-agent"},
    priority="high",
)
def refund(order: int, amount: int, reason: str) -> str:
    """Pays the refund. This body runs only for small amounts or approved calls; with a
    reviewer's edit, `amount` and `reason` are the edited ones."""
    return f"refunded ${amount} on order {order} ({reason})"


def handle(ticket: Ticket) -> str:
    amount, reason = propose_refund(ticket)
    try:
        return refund(ticket.order, amount, reason)
    except Rejected as no:
        return f"not refunded: order {ticket.order} rejected: {no.feedback}"
    except ChangesRequested as change:
        return f"back to a person: order {ticket.order} needs changes: {change.feedback}"


def parse(argument: str) -> Ticket:
    """ORDER:AMOUNT[:COMPLAINT]"""
    order, amount, *complaint = argument.split(":", 2)
    return Ticket(int(order), int(amount), complaint[0] if complaint else "no details")


def main(arguments: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # shows the review URLs
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not arguments:
        print(__doc__, file=sys.stderr)
        return 2
    for ticket in map(parse, arguments):
        print(handle(ticket), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
