"""The request state machine as data: every (from, to) pair checked against one table."""

from __future__ import annotations

import itertools

import pytest

from signoff.domain.lifecycle import TRANSITIONS, can_transition, is_final
from signoff.domain.model import Status

# Written out again on purpose: a change to the table must be a change to this test too.
ALLOWED = {
    (Status.pending, Status.completed),
    (Status.pending, Status.timed_out),
    (Status.pending, Status.cancelled),
}


@pytest.mark.parametrize(
    ("from_", "to"),
    list(itertools.product(Status, Status)),
    ids=lambda s: s.value,
)
def test_can_transition(from_: Status, to: Status) -> None:
    assert can_transition(from_, to) is ((from_, to) in ALLOWED)


def test_the_table_is_exactly_the_allowed_pairs() -> None:
    assert set(TRANSITIONS) == ALLOWED


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_only_pending_is_not_final(status: Status) -> None:
    assert is_final(status) is (status is not Status.pending)
