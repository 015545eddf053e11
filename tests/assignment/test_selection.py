"""The pure rules of domain/assignment.py: who gets a request, who acts for whom, who may vote."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from signoff.domain.assignment import (
    Pick,
    acting_for,
    delegation_cycle,
    select,
    settled_standing,
    standing,
)
from signoff.domain.model import Absence, Assignee, AssignmentStrategy, Stage

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
RR = AssignmentStrategy.round_robin
LL = AssignmentStrategy.least_loaded
TEAM = ("ann", "bob", "cat")


def away(user: str, delegate: str | None = None, *, days: int = 1) -> Absence:
    return Absence(user, NOW - timedelta(hours=1), NOW + timedelta(days=days), delegate)


def pick(strategy: AssignmentStrategy, **kw: object) -> tuple[list[Pick], int]:
    args: dict[str, object] = {
        "count": 1,
        "cursor": 0,
        "loads": {},
        "absences": {},
        "barred": set(),
        "now": NOW,
        **kw,
    }
    chosen = select(strategy, TEAM, **args)  # type: ignore[arg-type]
    return list(chosen.picks), chosen.cursor


def test_round_robin_is_exactly_fair_over_many_requests() -> None:
    cursor, order = 0, []
    for _ in range(300):
        picks, cursor = pick(RR, cursor=cursor)
        order.append(picks[0].user_id)
    assert Counter(order) == {"ann": 100, "bob": 100, "cat": 100}
    assert order[:6] == ["ann", "bob", "cat", "ann", "bob", "cat"]


def test_round_robin_skips_an_away_reviewer_and_keeps_the_turn_order() -> None:
    absences = {"bob": away("bob")}
    cursor, order = 0, []
    for _ in range(4):
        picks, cursor = pick(RR, cursor=cursor, absences=absences)
        order.append(picks[0].user_id)
    assert order == ["ann", "cat", "ann", "cat"]
    # Once bob is back (his period over), his turn comes again.
    later = NOW + timedelta(days=2)
    picks, cursor = pick(RR, cursor=0, absences=absences, now=later)
    assert [p.user_id for p in picks] == ["ann"]
    picks, _ = pick(RR, cursor=cursor, absences=absences, now=later)
    assert [p.user_id for p in picks] == ["bob"]


def test_an_absence_that_has_not_started_skips_nobody() -> None:
    future = Absence("ann", NOW + timedelta(days=1), None, None)
    picks, _ = pick(RR, absences={"ann": future})
    assert picks == [Pick("ann", "ann")]


def test_an_away_reviewer_with_a_delegate_has_the_turn_go_to_the_delegate() -> None:
    picks, cursor = pick(RR, absences={"ann": away("ann", "dan")})
    assert picks == [Pick("ann", "dan")]
    assert picks[0].delegate_id == "dan"
    assert cursor == 1


def test_least_loaded_picks_the_fewest_pending_then_loop_order() -> None:
    picks, _ = pick(LL, loads={"ann": 3, "bob": 1, "cat": 2})
    assert [p.user_id for p in picks] == ["bob"]
    picks, _ = pick(LL, loads={"ann": 2, "bob": 1, "cat": 1})
    assert [p.user_id for p in picks] == ["bob"]
    # A delegate's load is what counts for the reviewer they stand in for.
    picks, _ = pick(LL, loads={"dan": 5, "bob": 1, "cat": 2}, absences={"ann": away("ann", "dan")})
    assert [p.user_id for p in picks] == ["bob"]


def test_several_approvals_get_different_people_and_a_delegate_counts_once() -> None:
    picks, cursor = pick(RR, count=2, cursor=2)
    assert [p.user_id for p in picks] == ["cat", "ann"]
    assert cursor == 1
    # ann is away and bob acts for her: bob cannot fill two of the places.
    picks, _ = pick(RR, count=3, absences={"ann": away("ann", "bob")})
    assert [(p.user_id, p.acting_id) for p in picks] == [("ann", "bob"), ("cat", "cat")]


def test_the_requester_is_never_picked_neither_as_reviewer_nor_as_delegate() -> None:
    picks, _ = pick(RR, barred={"ann"})
    assert [p.user_id for p in picks] == ["bob"]
    picks, _ = pick(RR, barred={"dan"}, absences={"ann": away("ann", "dan")})
    assert [p.user_id for p in picks] == ["bob"]


def test_nobody_to_pick_leaves_the_cursor_where_it_was() -> None:
    absences = {u: away(u) for u in TEAM}
    assert pick(RR, cursor=2, absences=absences) == ([], 2)
    assert pick(AssignmentStrategy.open) == ([], 0)


def test_delegation_follows_chains_and_stops_at_cycles_and_dead_ends() -> None:
    chain = {"ann": away("ann", "bob"), "bob": away("bob", "cat")}
    assert acting_for("ann", chain, NOW) == "cat"
    assert acting_for("dan", chain, NOW) == "dan"
    assert acting_for("ann", {"ann": away("ann")}, NOW) is None
    loop = {"ann": away("ann", "bob"), "bob": away("bob", "ann")}
    assert acting_for("ann", loop, NOW) is None
    # Outside the period, nobody stands in.
    assert acting_for("ann", chain, NOW + timedelta(days=3)) == "ann"


def test_a_delegation_that_would_close_a_cycle_is_found() -> None:
    assert delegation_cycle("ann", "bob", {"bob": "ann"}) == ["ann", "bob", "ann"]
    assert delegation_cycle("ann", "bob", {"bob": "cat", "cat": "ann"}) == [
        "ann",
        "bob",
        "cat",
        "ann",
    ]
    assert delegation_cycle("ann", "bob", {"bob": "cat"}) is None
    # A cycle elsewhere is not this one's business, and does not hang the search.
    assert delegation_cycle("ann", "bob", {"bob": "cat", "cat": "bob"}) is None


@pytest.mark.parametrize(
    ("who", "strategy", "allowed", "on_behalf_of"),
    [
        ("ann", RR, True, None),  # the assignee
        ("bob", RR, False, None),  # a reviewer of the loop, not assigned
        ("bob", AssignmentStrategy.open, True, None),  # open loops: every reviewer, as before
        ("dan", RR, True, "ann"),  # ann's delegate, named at assignment
        ("eve", RR, False, None),
    ],
)
def test_who_may_vote_on_an_assigned_request(
    who: str, strategy: AssignmentStrategy, allowed: bool, on_behalf_of: str | None
) -> None:
    verdict = standing(
        who,
        is_admin=False,
        strategy=strategy,
        loop_reviewers=TEAM,
        assignees=[Assignee("ann", "dan", NOW)],
        absences={},
        covered=set(),
        now=NOW,
    )
    assert (verdict.allowed, verdict.on_behalf_of) == (allowed, on_behalf_of)


def test_a_delegate_who_stands_in_now_may_vote_and_admins_always_may() -> None:
    args: dict[str, object] = {
        "strategy": RR,
        "loop_reviewers": TEAM,
        "assignees": [Assignee("ann", None, NOW)],
        "absences": {"ann": away("ann", "dan")},
        "covered": set(),
        "now": NOW,
    }
    assert standing("dan", is_admin=False, **args).on_behalf_of == "ann"  # type: ignore[arg-type]
    assert standing(None, is_admin=True, **args).allowed  # type: ignore[arg-type]
    # With nobody assigned (nobody could be), the loop's reviewers may decide.
    args["assignees"] = []
    assert standing("bob", is_admin=False, **args).allowed  # type: ignore[arg-type]


def test_a_settled_standing_is_what_standing_says_whatever_the_assignees() -> None:
    """settled_standing lets the vote path skip reading assignees and absences: it may answer
    only where `standing` would answer the same for every assignment and absence."""
    situations = [
        ([], {}),
        ([Assignee("ann", None, NOW)], {}),
        ([Assignee("cat", "ann", NOW)], {}),  # ann is the delegate of the assignee
        ([Assignee("cat", None, NOW)], {"cat": away("cat", "ann")}),
        ([Assignee("dan", None, NOW)], {"dan": away("dan", "bob"), "bob": away("bob", "ann")}),
        ([Assignee("ann", None, NOW)], {"ann": away("ann", "bob")}),
    ]
    answered = 0
    for user in (*TEAM, "dan", None):
        for is_admin in (False, True):
            for strategy in AssignmentStrategy:
                settled = settled_standing(user, strategy=strategy, loop_reviewers=TEAM)
                if settled is None:
                    continue
                answered += 1
                assert strategy is AssignmentStrategy.open and user in TEAM
                for assigned, absences in situations:
                    for covered in (set(), {"cat"}, {"dan"}):
                        full = standing(
                            user,
                            is_admin=is_admin,
                            strategy=strategy,
                            loop_reviewers=TEAM,
                            assignees=assigned,
                            absences=absences,
                            covered=covered,
                            now=NOW,
                        )
                        assert full == settled, (user, is_admin, assigned, absences)
    assert answered == len(TEAM) * 2
    # Outside the loop, an open loop's standing still depends on them: dan stands in for cat.
    assert settled_standing("dan", strategy=AssignmentStrategy.open, loop_reviewers=TEAM) is None
    # A stage with reviewers of its own settles only for them; the others ask `standing`.
    lead = Stage("lead", reviewers=("ann",))
    assert settled_standing(
        "ann", strategy=AssignmentStrategy.open, loop_reviewers=TEAM, stage=lead
    )
    assert (
        settled_standing("bob", strategy=AssignmentStrategy.open, loop_reviewers=TEAM, stage=lead)
        is None
    )
    as_delegate = standing(
        "dan",
        is_admin=False,
        strategy=AssignmentStrategy.open,
        loop_reviewers=TEAM,
        assignees=[Assignee("cat", None, NOW)],
        absences={"cat": away("cat", "dan")},
        covered=set(),
        now=NOW,
    )
    assert (as_delegate.allowed, as_delegate.on_behalf_of) == (True, "cat")


@pytest.mark.parametrize(
    ("who", "strategy", "allowed", "on_behalf_of", "why_not"),
    [
        ("ann", AssignmentStrategy.open, True, None, ""),  # a reviewer of the stage
        ("bob", AssignmentStrategy.open, False, None, "not a reviewer of stage 'lead'"),
        ("eve", AssignmentStrategy.open, True, None, ""),  # added by escalation, of the stage
        ("fay", AssignmentStrategy.open, False, None, "not a reviewer of stage 'lead'"),
        ("eve", RR, True, None, ""),  # added: no assignment needed
        ("dan", RR, True, "ann", ""),  # acting for the stage's assignee counts as her
        ("cat", RR, False, None, "not a reviewer of stage 'lead'"),
    ],
)
def test_a_stage_with_its_own_reviewers_takes_only_them_and_those_acting_for_them(
    who: str, strategy: AssignmentStrategy, allowed: bool, on_behalf_of: str | None, why_not: str
) -> None:
    verdict = standing(
        who,
        is_admin=False,
        strategy=strategy,
        loop_reviewers=TEAM,
        assignees=[Assignee("ann", "dan", NOW)] if strategy is RR else [],
        absences={},
        covered=set(),
        now=NOW,
        added=("eve", "fay"),
        stage=Stage("lead", reviewers=("ann", "eve")),
    )
    assert (verdict.allowed, verdict.on_behalf_of) == (allowed, on_behalf_of)
    assert why_not in verdict.why_not
