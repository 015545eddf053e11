"""Who may decide what: the rows behind store/deciders.py kept in step with the requests, and
the reviewer as the inbox asks about them.

`standing` (domain/assignment.py) reads a request's escalation-added reviewers and its current
stage from the request itself; the database reads them from `request_reviewers`, written here
wherever they change: a request created (its first stage), a stage entered, an escalation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..domain.assignment import acting_for
from ..domain.model import AssignmentStrategy, Loop, Principal, Request
from ..store import assignments as assignment_store
from ..store import deciders as store
from ..store import loops as loop_store
from ..store.db import Conn
from ..store.deciders import Decider


async def stage_entered(conn: Conn, requests: Iterable[Request]) -> None:
    """These requests are in a stage they were not in before (or are new): their current
    stage's own reviewers replace those of the stage before."""
    await store.set_stage_reviewers(
        conn,
        {
            r.id: r.current_stage.reviewers if r.current_stage is not None else ()
            for r in requests
            if r.stage is not None
        },
    )


async def escalated(conn: Conn, request_id: str, added: list[str]) -> None:
    await store.add_reviewers(conn, request_id, added)


async def reviewers_loops(conn: Conn, user_id: str) -> list[Loop]:
    """The live loops `user_id` is a reviewer of."""
    return await loop_store.list_loops(conn, None, 10_000, reviewer=user_id)


async def stands_in_for(conn: Conn, user_id: str, now: datetime) -> tuple[str, ...]:
    """Whom `user_id` acts for at `now`: the away people whose delegation ends with them."""
    absences = await assignment_store.current_absences(conn, now)
    return tuple(u for u in absences if u != user_id and acting_for(u, absences, now) == user_id)


async def decider(conn: Conn, actor: Principal, loops: list[Loop], now: datetime) -> Decider:
    """`actor` (a reviewer; `loops` the ones they review) as store/deciders.py asks about them."""
    user_id = actor.user_id or ""
    return Decider(
        user_id=user_id,
        stands_for=await stands_in_for(conn, user_id, now),
        open_loops=tuple(lp.id for lp in loops if lp.assignment is AssignmentStrategy.open),
        assigning_loops=tuple(
            lp.id for lp in loops if lp.assignment is not AssignmentStrategy.open
        ),
    )


async def concerning(conn: Conn, d: Decider, request_ids: Iterable[str]) -> set[str]:
    return await store.concerning(conn, d, request_ids)
