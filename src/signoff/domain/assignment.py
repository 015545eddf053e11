"""Who gets a request, and who may act on it. Pure: the store supplies reviewers, loads, absences.

Strategies (a loop's `assignment`):
- `open`: nobody in particular; every reviewer of the loop sees and may decide it.
- `round_robin`: the next reviewers in the loop's order, from a cursor kept per loop.
- `least_loaded`: the reviewers with the fewest pending assignments (ties: loop order).

A request needing N approvals gets N different people. A reviewer who is away is skipped unless
they named a delegate: then their turn goes to the delegate, recorded as acting for them.
Delegation is followed transitively (A away → B, B away → C: C acts for A) and stops at a cycle
or at someone away without a delegate (then nobody can act for A, and A is skipped). Nobody is
picked who may not approve the request (its requester, under any of its names), neither as
reviewer nor as delegate.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .model import Absence, Assignee, AssignmentStrategy, Stage


def acting_for(user_id: str, absences: Mapping[str, Absence], now: datetime) -> str | None:
    """Who acts for `user_id` at `now`: themselves, their delegate (followed through further
    absences), or None when they are away and nobody can stand in."""
    seen = {user_id}
    current = user_id
    while (away := absences.get(current)) is not None and away.covers(now):
        if away.delegate_id is None or away.delegate_id in seen:
            return None
        current = away.delegate_id
        seen.add(current)
    return current


def delegation_cycle(
    user_id: str, delegate_id: str, delegates: Mapping[str, str]
) -> list[str] | None:
    """The cycle that `user_id` → `delegate_id` would close, given the other delegations
    (user → delegate), or None. Periods are ignored: a chain that could loop is refused."""
    path = [user_id, delegate_id]
    current = delegate_id
    while current != user_id:
        following = delegates.get(current)
        if following is None or following in path[1:]:
            return None
        path.append(following)
        current = following
    return path


@dataclass(frozen=True)
class Pick:
    """One assignment to make: the reviewer whose turn it is, and who acts for them."""

    user_id: str
    acting_id: str

    @property
    def delegate_id(self) -> str | None:
        return self.acting_id if self.acting_id != self.user_id else None


@dataclass(frozen=True)
class Selection:
    picks: tuple[Pick, ...]
    cursor: int  # the round robin position to start from next time


def select(
    strategy: AssignmentStrategy,
    reviewers: Sequence[str],
    *,
    count: int,
    cursor: int,
    loads: Mapping[str, int],
    absences: Mapping[str, Absence],
    barred: Collection[str],
    now: datetime,
) -> Selection:
    """Up to `count` reviewers for one request. `loads` counts pending assignments by the
    person who acts; `barred` holds who may not act (the requester's names)."""
    if strategy is AssignmentStrategy.open or not reviewers:
        return Selection((), cursor)
    n = len(reviewers)
    start = cursor % n if strategy is AssignmentStrategy.round_robin else 0
    order = [(start + i) % n for i in range(n)]
    candidates: list[tuple[int, Pick]] = []
    for position in order:
        user_id = reviewers[position]
        acting = acting_for(user_id, absences, now)
        if acting is None or user_id in barred or acting in barred:
            continue
        candidates.append((position, Pick(user_id, acting)))
    if strategy is AssignmentStrategy.least_loaded:
        candidates.sort(key=lambda c: (loads.get(c[1].acting_id, 0), c[0]))
    picks: list[Pick] = []
    last = None
    for position, pick in candidates:
        if len(picks) == count:
            break
        if any(p.acting_id == pick.acting_id for p in picks):
            continue  # one person, one assignment: a delegate never counts twice
        picks.append(pick)
        last = position
    if strategy is AssignmentStrategy.round_robin and last is not None:
        cursor = (last + 1) % n
    return Selection(tuple(picks), cursor)


@dataclass(frozen=True)
class Standing:
    """Whether a person may decide a request, and for whom they act when it is as a delegate."""

    allowed: bool
    on_behalf_of: str | None = None
    why_not: str = ""


def settled_standing(
    user_id: str | None,
    *,
    strategy: AssignmentStrategy,
    loop_reviewers: Collection[str],
    stage: Stage | None = None,
) -> Standing | None:
    """`standing` when it holds whatever the request's assignees and absences are, so they need
    not be read: a reviewer of an open loop may decide, as themselves, unless the current
    `stage` has reviewers of its own and they are not one. Anyone else's standing on an open
    loop still depends on them: an admin may have given the request to someone (reassign, or
    assignments kept from before the loop became open), and that assignee, or whoever stands
    in for them while they are away, acts on it (for them)."""
    own = stage.reviewers if stage is not None else ()
    if (
        user_id is not None
        and strategy is AssignmentStrategy.open
        and user_id in loop_reviewers
        and (not own or user_id in own)
    ):
        return Standing(True)
    return None


def standing(
    user_id: str | None,
    *,
    is_admin: bool,
    strategy: AssignmentStrategy,
    loop_reviewers: Collection[str],
    assignees: Sequence[Assignee],
    absences: Mapping[str, Absence],
    covered: Collection[str],
    now: datetime,
    added: Collection[str] = (),
    stage: Stage | None = None,
) -> Standing:
    """May `user_id` decide the request? The one statement of who may; the inbox asks the
    database the same question (store/deciders.py), and a test holds the two together.

    - Its loop's reviewers, unless the loop assigns (round_robin, least_loaded) and the request
      has assignees (open loops, and requests nobody could be given, stay open to them all).
    - Its assignees, and whoever acts for one of them: the delegate named when it was assigned,
      or one who stands in now. One assignment yields one vote: a delegate acts for someone
      not yet `covered` (who has voted, themselves or through a delegate).
    - The reviewers an escalation `added` to this one request.
    - Within all of these, a `stage` with reviewers of its own takes only them; a delegate
      counts as the reviewer they act for. A stage without reviewers takes any of the above.
    - Admins always.

    A delegate's verdict names whom they act for (`on_behalf_of`): someone who has not voted
    yet if there is one, else `cast_vote` refuses the vote as a repeat.
    """
    own = stage.reviewers if stage is not None else ()

    def admitted(person: str) -> bool:
        return not own or person in own

    if user_id is not None:
        restricted = strategy is not AssignmentStrategy.open and bool(assignees)
        if admitted(user_id) and (
            (not restricted and user_id in loop_reviewers)
            or any(a.user_id == user_id for a in assignees)
            or user_id in added
        ):
            return Standing(True)
        standing_in = [
            a.user_id
            for a in assignees
            if admitted(a.user_id)
            and (a.delegate_id == user_id or acting_for(a.user_id, absences, now) == user_id)
        ]
        if standing_in:
            # Acting for someone who has voted already, the vote is refused as a repeat.
            free = [u for u in standing_in if u not in covered]
            return Standing(True, (free or standing_in)[0])
    if is_admin:
        return Standing(True)
    named = {*loop_reviewers, *added, *(a.user_id for a in assignees)}
    if own and stage is not None and user_id in named:
        return Standing(False, why_not=f"you are not a reviewer of stage {stage.name!r}")
    if assignees and strategy is not AssignmentStrategy.open:
        return Standing(False, why_not="this request is assigned to someone else")
    return Standing(False, why_not="you are not a reviewer of this request's loop")
