"""The request state machine, as data: a request leaves `pending` exactly once."""

from __future__ import annotations

from .model import Status

TRANSITIONS: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.pending, Status.completed),
        (Status.pending, Status.timed_out),
        (Status.pending, Status.cancelled),
    }
)


def can_transition(from_: Status, to: Status) -> bool:
    return (from_, to) in TRANSITIONS


def is_final(status: Status) -> bool:
    return not any(from_ is status for from_, _ in TRANSITIONS)
