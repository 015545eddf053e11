"""Who may decide a request, asked of the database for one person at a time: the SQL twin of
domain/assignment.py `standing` (read that first). The inbox, its counts, the review session
and the live updates all ask through `may_decide`; tests/assignment/test_who_decides.py holds
the two statements together over many cases.

Every part is an index lookup: the inbox walks pending requests by (status, priority, id) and
each test below is a probe on the request's id or one subquery on the person's rows
(assignments by user_id or delegate_id, request_reviewers by user_id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa

from .db import Conn
from .tables import assignments, request_reviewers, requests, votes

ADDED = "added"  # whom an escalation added to the request
STAGE = "stage"  # the reviewers of the request's current stage, when it names its own
# Made once: an alias builds its column collection, which costs more than the query it serves.
_ACTING = assignments.alias("acting")
_ACTING_STAGE = request_reviewers.alias("acting_stage")


async def set_stage_reviewers(conn: Conn, reviewers: Mapping[str, Iterable[str]]) -> None:
    """The current stage of each request (by id) takes these reviewers: none, when it takes
    the loop's (or the request has no stages)."""
    if not reviewers:
        return
    await conn.execute(
        request_reviewers.delete().where(
            request_reviewers.c.request_id.in_(list(reviewers)),
            request_reviewers.c.kind == STAGE,
        )
    )
    rows = [
        {"request_id": request_id, "kind": STAGE, "user_id": user_id}
        for request_id, people in reviewers.items()
        for user_id in dict.fromkeys(people)
    ]
    if rows:
        await conn.execute(request_reviewers.insert(), rows)


async def add_reviewers(conn: Conn, request_id: str, user_ids: Iterable[str]) -> None:
    """An escalation added these people (none of them added before) to the request."""
    rows = [
        {"request_id": request_id, "kind": ADDED, "user_id": u} for u in dict.fromkeys(user_ids)
    ]
    if rows:
        await conn.execute(request_reviewers.insert(), rows)


@dataclass(frozen=True)
class Shape:
    """Which parts a decider's condition has: one statement per shape, made once and cached
    (building and keying a statement this size costs more than running it)."""

    open_loops: bool
    assigning_loops: bool
    stands_for: bool


@dataclass(frozen=True)
class Decider:
    """A reviewer as `standing` sees them, in what the database can look up."""

    user_id: str
    stands_for: tuple[str, ...]  # whom they act for now (delegation, followed through)
    open_loops: tuple[str, ...]  # loops they review that give requests to every reviewer
    assigning_loops: tuple[str, ...]  # loops they review that assign (round_robin, ...)

    @property
    def shape(self) -> Shape:
        return Shape(bool(self.open_loops), bool(self.assigning_loops), bool(self.stands_for))

    def params(self) -> dict[str, Any]:
        """The values of the conditions' parameters (`ways`, `may_decide`)."""
        return {
            "decider": self.user_id,
            "open_loops": list(self.open_loops),
            "assigning_loops": list(self.assigning_loops),
            "stands_for": list(self.stands_for),
        }


_DECIDER = sa.bindparam("decider", type_=sa.String)
_CURRENT = assignments.c.ended_at.is_(None)


def covered(request_id: sa.ColumnElement[str], person: sa.ColumnElement[str]) -> sa.Exists:
    """`person` has voted on the request, themselves or through a delegate (a live vote)."""
    return sa.exists().where(
        votes.c.request_id == request_id,
        votes.c.voided_at.is_(None),
        sa.or_(votes.c.voter_id == person, votes.c.on_behalf_of == person),
    )


def _stage_names(
    table: sa.FromClause, request_id: sa.ColumnElement[str], *extra: sa.ColumnElement[bool]
) -> sa.Exists:
    return sa.exists().where(table.c.request_id == request_id, table.c.kind == STAGE, *extra)


@cache
def may_decide(shape: Shape) -> sa.ColumnElement[bool]:
    """A condition on `requests`: the decider may decide it, as `standing` says (leaving out
    only whether they have voted already; see `covered`). Parameters: `Decider.params()`."""
    return sa.or_(*ways(shape))


@cache
def ways(shape: Shape, *, row: bool = True) -> tuple[sa.ColumnElement[bool], ...]:
    """Each way the decider may decide a request, as a condition on `requests` that one index
    drives: the loops they review (by loop_id), their assignments, the escalations that added
    them and the assignments of those they act for (by id). `row=False` keeps to the columns
    every index of `requests` holds (id, loop_id, status), so that a count of many requests
    reads no row. Parameters: `Decider.params()`."""
    # A stage with reviewers of its own takes only them.
    admitted = sa.or_(
        ~_stage_names(request_reviewers, requests.c.id),
        _stage_names(request_reviewers, requests.c.id, request_reviewers.c.user_id == _DECIDER),
    )
    if row:  # most requests have no stages: one look at the row spares the probes
        admitted = sa.or_(requests.c.stage.is_(None), admitted)
    found: list[sa.ColumnElement[bool]] = []
    if shape.open_loops:
        theirs = requests.c.loop_id.in_(sa.bindparam("open_loops", expanding=True))
        found.append(sa.and_(theirs, admitted))
    if shape.assigning_loops:
        theirs = requests.c.loop_id.in_(sa.bindparam("assigning_loops", expanding=True))
        # A request nobody could be given stays open to the loop's reviewers.
        given = sa.exists().where(assignments.c.request_id == requests.c.id, _CURRENT)
        found.append(sa.and_(theirs, ~given, admitted))
    mine = sa.select(assignments.c.request_id).where(_CURRENT, assignments.c.user_id == _DECIDER)
    found.append(sa.and_(requests.c.id.in_(mine), admitted))
    found.append(sa.and_(_added_to(_DECIDER), admitted))
    found.append(requests.c.id.in_(_acting_for(shape.stands_for)))
    return tuple(found)


def _acting_for(stands_for: bool) -> sa.Select[tuple[str]]:
    """The requests the decider may decide as a delegate: assigned to someone they act for, who
    has not voted yet, and whom the current stage takes."""
    a, stage = _ACTING, _ACTING_STAGE
    whose = a.c.delegate_id == _DECIDER
    if stands_for:
        whose = sa.or_(whose, a.c.user_id.in_(sa.bindparam("stands_for", expanding=True)))
    return sa.select(a.c.request_id).where(
        a.c.ended_at.is_(None),
        whose,
        ~covered(a.c.request_id, a.c.user_id),
        sa.or_(
            ~_stage_names(stage, a.c.request_id),
            _stage_names(stage, a.c.request_id, stage.c.user_id == a.c.user_id),
        ),
    )


def _added_to(user_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    return requests.c.id.in_(
        sa.select(request_reviewers.c.request_id).where(
            request_reviewers.c.user_id == user_id, request_reviewers.c.kind == ADDED
        )
    )


def added_to(user_id: str) -> sa.ColumnElement[bool]:
    """A condition on `requests`: an escalation added `user_id` to it."""
    return _added_to(sa.literal(user_id, sa.String))


async def concerning(conn: Conn, d: Decider, request_ids: Iterable[str]) -> set[str]:
    """Which of these requests (of any status) `d` may decide, or could when they left
    `pending`, or was added to by an escalation."""
    query = sa.select(requests.c.id).where(
        requests.c.id.in_(list(request_ids)), sa.or_(may_decide(d.shape), _added_to(_DECIDER))
    )
    return {r.id for r in await conn.execute(query, d.params())}
