"""Rules and stages as pure functions: compiling, evaluating, every action, stage progress."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from signoff.domain.model import (
    Choice,
    Priority,
    Rule,
    RuleAction,
    Stage,
    StageStatus,
)
from signoff.domain.rules import (
    ConditionError,
    apply_rules,
    compile_condition,
    evaluate,
    facts_of,
    parse_rules,
    parse_stages,
    rule_actor,
    rules_from_json,
    start_stages,
)
from signoff.domain.voting import Ballot, cast_vote
from signoff.errors import Conflict, Forbidden, ValidationFailed
from tests.unit.test_voting import ADMIN, ANN, BOB, CAT, make_loop, make_request, vote_of


def facts(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Refund",
        "content": "Refund $120 to Bob",
        "content_type": "text",
        "context": None,
        "metadata": {"amount": 120, "customer": {"tier": "gold"}, "tags": ["vip"]},
        "ai_analysis": {"confidence": 0.93, "flags": []},
        "priority": "normal",
        "requested_by": "agent-7",
    }
    return {**base, **changes}


def rule(when: str, action: str, **argument: Any) -> Rule:
    return parse_rules([{"when": when, "action": action, **argument}])[0]


# Conditions


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("metadata.amount < 1000", True),
        ("metadata.amount < 100", False),
        ("metadata.amount < 120.5", True),  # int against double compares by value
        ("metadata.customer.tier == 'gold'", True),
        ("'vip' in metadata.tags", True),
        ("ai_analysis.confidence < 0.5", False),
        ("size(ai_analysis.flags) == 0", True),
        ("ai_analysis.flags.exists(f, f == 'pii')", False),
        ("priority == 'normal' && content_type == 'text'", True),
        ("title.startsWith('Ref') && requested_by == 'agent-7'", True),
        ("content.contains('$120')", True),
        ("context == null", True),
        ("has(metadata.amount)", True),
        ("has(metadata.missing)", False),
        ("has(metadata.amount) && metadata.amount > 100", True),
    ],
)
def test_conditions_read_the_request(source: str, expected: bool) -> None:
    result = evaluate(source, facts())
    assert result.error is None, result.error
    assert result.matched is expected


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("metadata.missing < 100", "no such key"),
        ("metadata.customer.missing.deeper == 1", "no such key"),
        ("metadata.amount + 'x' == 'y'", "No such overload"),
        ("metadata.amount", "gave int 120, not true or false"),
        ("metadata.amount / 0 == 1", "division by zero"),
    ],
)
def test_a_condition_that_cannot_be_evaluated_does_not_match(source: str, error: str) -> None:
    result = evaluate(source, facts())
    assert result.matched is False
    assert result.error is not None and error in result.error


def test_an_error_on_one_side_of_or_does_not_hide_a_true_other_side() -> None:
    assert evaluate("metadata.missing > 1 || metadata.amount > 1", facts()).matched


def test_missing_ai_analysis_is_an_empty_map() -> None:
    absent = facts_of(
        title=None,
        content="c",
        content_type="text",
        context=None,
        metadata={},
        ai_analysis=None,
        priority="normal",
        requested_by=None,
    )
    assert evaluate("!has(ai_analysis.confidence)", absent).matched
    assert evaluate("title == null && requested_by == null", absent).matched


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("metadata.amount <", "line 1, column 18: Syntax error"),
        ("metadata.amount <<< 3", "Syntax error"),
        ("(metadata.amount", "Syntax error"),
        ("'unterminated", "token recognition error"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("metdata.amount < 1", "unknown name metdata"),
        ("amount < 1", "unknown name amount; a condition can use title, content"),
        ("x" * 2001, "the limit is 2000"),
    ],
)
def test_a_condition_that_does_not_compile_says_where(source: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition(source)
    assert message in str(caught.value)


def test_names_bound_by_macros_are_not_unknown() -> None:
    compile_condition("metadata.tags.all(t, t != 'blocked') && [1, 2].map(n, n * 2)[0] == 2")


# Saving rules


def test_rules_keep_their_order_and_arguments() -> None:
    raw = [
        {"when": "metadata.amount < 100", "action": "auto_approve"},
        {"when": "true", "action": "route_to", "loop_id": "loop_b"},
        {"when": "true", "action": "require_approvals", "approvals": 2},
        {"when": "true", "action": "set_priority", "priority": "urgent"},
        {"when": "true", "action": "set_timeout", "timeout_seconds": 60},
        {"when": "false", "action": "auto_reject"},
    ]
    rules = parse_rules(raw)
    assert [r.to_json() for r in rules] == raw
    assert rules_from_json(raw) == rules


def _fields(raw: list[dict[str, Any]]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_rules(raw)
    return {e.field: e.message for e in caught.value.errors}


def test_every_problem_of_a_rule_set_is_named_by_its_field() -> None:
    errors = _fields(
        [
            {"when": "metadata.amount < 100", "action": "auto_approve"},
            {"when": "metadata.amount <", "action": "auto_approve"},
            {"when": "true", "action": "launch_rockets"},
            {"when": "true", "action": "route_to"},
            {"when": "true", "action": "require_approvals"},
            {"when": "true", "action": "set_priority"},
            {"when": "true", "action": "set_timeout"},
            {"when": "true", "action": "auto_approve", "priority": "high"},
        ]
    )
    assert set(errors) == {
        "body.rules.1.when",
        "body.rules.2.action",
        "body.rules.3.loop_id",
        "body.rules.4.approvals",
        "body.rules.5.priority",
        "body.rules.6.timeout_seconds",
        "body.rules.7.priority",
    }
    assert "line 1, column 18" in errors["body.rules.1.when"]
    assert "auto_approve, auto_reject, route_to" in errors["body.rules.2.action"]
    assert errors["body.rules.3.loop_id"] == "route_to needs `loop_id`"
    assert errors["body.rules.7.priority"] == "does not go with auto_approve"


# Evaluating rules


def test_no_rule_fires_when_none_matches() -> None:
    plan = apply_rules((rule("metadata.amount > 1000", "auto_reject"),), facts())
    assert plan.fired == () and plan.decided_by is None and plan.action is None


@pytest.mark.parametrize("action", ["auto_approve", "auto_reject"])
def test_a_decision_ends_the_reading(action: str) -> None:
    rules = (
        rule("metadata.amount < 1000", action),
        rule("true", "set_priority", priority="urgent"),
    )
    plan = apply_rules(rules, facts())
    assert plan.action is RuleAction(action)
    assert plan.decided_by is not None and plan.decided_by.index == 0
    assert plan.priority is None, "the rules after a decision are not read"
    assert rule_actor(plan.decided_by) == {
        "type": "system",
        "name": "rules",
        "rule": {"index": 0, "when": "metadata.amount < 1000", "action": action},
    }


def test_route_to_names_its_loop() -> None:
    plan = apply_rules((rule("true", "route_to", loop_id="loop_b"),), facts())
    assert plan.action is RuleAction.route_to
    assert plan.decided_by is not None and plan.decided_by.rule.loop_id == "loop_b"


def test_adjustments_apply_together_and_the_first_per_setting_wins() -> None:
    rules = (
        rule("metadata.amount > 100", "require_approvals", approvals=2),
        rule("true", "set_priority", priority="high"),
        rule("true", "require_approvals", approvals=5),
        rule("metadata.amount > 100", "set_timeout", timeout_seconds=3600),
        rule("metadata.amount > 10000", "set_priority", priority="low"),
    )
    plan = apply_rules(rules, facts())
    assert (plan.approvals, plan.priority, plan.timeout_seconds) == (2, Priority.high, 3600)
    assert [f.index for f in plan.fired] == [0, 1, 2, 3]
    assert plan.decided_by is None


def test_adjustments_before_a_decision_still_apply() -> None:
    rules = (
        rule("true", "set_priority", priority="urgent"),
        rule("true", "route_to", loop_id="loop_b"),
    )
    plan = apply_rules(rules, facts())
    assert plan.priority is Priority.urgent and plan.action is RuleAction.route_to


def test_a_rule_that_errors_does_not_fire_and_is_reported() -> None:
    rules = (
        rule("metadata.score > 0.5", "auto_approve"),
        rule("metadata.amount > 100", "set_priority", priority="high"),
    )
    plan = apply_rules(rules, facts())
    assert plan.decided_by is None
    assert plan.priority is Priority.high
    assert plan.to_json()["errors"] == [
        {"index": 0, "when": "metadata.score > 0.5", "error": "no such key: score"}
    ]


def test_types_are_not_coerced_so_a_string_amount_does_not_fire() -> None:
    auto = (rule("metadata.amount < 100", "auto_approve"),)
    plan = apply_rules(auto, facts(metadata={"amount": "50"}))
    assert plan.decided_by is None and plan.errors


# Stages


LEAD = Stage("lead", ("usr_ann", "usr_bob"), 1)
FINANCE = Stage("finance", ("usr_cat", "usr_bob"), 1, when="metadata.amount > 10000")


def test_saving_stages_checks_names_reviewers_conditions_and_a_fallback() -> None:
    loop_reviewers = ("usr_ann", "usr_bob", "usr_cat")
    stages = parse_stages([LEAD.to_json(), FINANCE.to_json()], loop_reviewers)
    assert stages == (LEAD, FINANCE)
    with pytest.raises(ValidationFailed) as caught:
        parse_stages(
            [
                {"name": "a", "reviewers": ["usr_ann", "usr_ann"], "when": "x <"},
                {"name": "a", "reviewers": ["usr_zed"], "when": "true"},
            ],
            loop_reviewers,
        )
    fields = {e.field: e.message for e in caught.value.errors}
    assert set(fields) == {
        "body.stages",
        "body.stages.0.reviewers",
        "body.stages.0.when",
        "body.stages.1.name",
        "body.stages.1.reviewers",
    }
    assert "usr_zed" in fields["body.stages.1.reviewers"]
    assert "at least one stage needs no `when`" in fields["body.stages"]


def test_a_stage_whose_condition_is_false_is_skipped() -> None:
    stages, first = start_stages((FINANCE, LEAD), None, facts())
    assert first == 1
    assert [s.status for s in stages] == [StageStatus.skipped, StageStatus.active]


def test_a_stage_whose_condition_errors_is_not_skipped() -> None:
    stages, first = start_stages((FINANCE, LEAD), None, facts(metadata={}))
    assert first == 0 and stages[0].status is StageStatus.active


def test_a_requests_quorum_raises_each_stage_but_never_lowers_it() -> None:
    strict = replace(LEAD, required_approvals=3)
    stages, _ = start_stages((strict, FINANCE), 2, facts())
    assert [s.stage.required_approvals for s in stages] == [3, 2]


def _staged_request(amount: int, **changes: Any) -> Any:
    stages, first = start_stages((LEAD, FINANCE), None, facts(metadata={"amount": amount}))
    return make_request(
        metadata={"amount": amount}, stages=stages, stage=first, required_approvals=1, **changes
    )


def test_approval_moves_through_the_stages_and_the_last_completes() -> None:
    loop = make_loop(stages=(LEAD, FINANCE))
    request = _staged_request(20_000)
    first = cast_vote(request, loop, [], ANN, Ballot(Choice.approve))
    assert first.outcome is None
    assert (first.stage_completed, first.next_stage) == (0, 1)
    assert first.stages is not None
    assert [s.status for s in first.stages] == [StageStatus.approved, StageStatus.active]

    at_finance = replace(request, stages=first.stages, stage=1)
    votes = [replace(vote_of(ANN, Ballot(Choice.approve)), stage=0)]
    last = cast_vote(at_finance, loop, votes, CAT, Ballot(Choice.approve))
    assert last.outcome is not None and last.outcome.decision.value == "approved"
    assert (last.stage_completed, last.next_stage) == (1, None)
    assert [d.get("user_id") for d in last.outcome.decided_by] == ["usr_ann", "usr_cat"]


def test_a_skipped_last_stage_lets_the_first_complete_the_request() -> None:
    request = _staged_request(50)
    verdict = cast_vote(request, make_loop(stages=(LEAD, FINANCE)), [], ANN, Ballot(Choice.approve))
    assert verdict.outcome is not None and verdict.next_stage is None
    assert verdict.stages is not None and verdict.stages[1].status is StageStatus.skipped


def test_one_person_never_counts_in_two_stages() -> None:
    loop = make_loop(stages=(LEAD, FINANCE))
    request = _staged_request(20_000)
    first = cast_vote(request, loop, [], BOB, Ballot(Choice.approve))
    at_finance = replace(request, stages=first.stages, stage=1)
    votes = [replace(vote_of(BOB, Ballot(Choice.approve)), stage=0)]
    with pytest.raises(Conflict, match="at stage 'lead'; one person never counts in two stages"):
        cast_vote(at_finance, loop, votes, BOB, Ballot(Choice.approve))
    admin_votes = [replace(vote_of(ADMIN, Ballot(Choice.approve)), stage=0)]
    with pytest.raises(Conflict, match="never counts in two stages"):
        cast_vote(at_finance, loop, admin_votes, ADMIN, Ballot(Choice.approve))


def test_a_stage_with_its_own_reviewers_takes_only_them() -> None:
    with pytest.raises(Forbidden, match="not a reviewer of stage 'lead'"):
        cast_vote(_staged_request(20_000), make_loop(), [], CAT, Ballot(Choice.approve))


def test_a_rejection_at_any_stage_ends_the_request() -> None:
    verdict = cast_vote(
        _staged_request(20_000), make_loop(), [], ANN, Ballot(Choice.reject, feedback="no")
    )
    assert verdict.outcome is not None and verdict.outcome.decision.value == "rejected"
    assert verdict.stages is not None
    assert [s.status for s in verdict.stages] == [StageStatus.ended, StageStatus.waiting]


def test_facts_cel_cannot_hold_fire_no_rule_and_skip_no_stage() -> None:
    odd = facts(metadata={"x": object()})
    plan = apply_rules((rule("metadata.x == 1", "auto_approve"),), odd)
    assert plan.decided_by is None and len(plan.errors) == 1
    _, first = start_stages((replace(FINANCE, when="metadata.x == 1"), LEAD), None, odd)
    assert first == 0


def test_the_timeline_orders_the_clocks_and_takes_the_schedulers_timers() -> None:
    from datetime import UTC, datetime

    from signoff.domain.model import TimeoutAction
    from signoff.domain.simulation import timeline

    now = datetime(2026, 1, 1, tzinfo=UTC)
    lead = replace(LEAD, timeout_seconds=600)
    finance = replace(FINANCE, timeout_seconds=60)
    reminder = ("reminder", 3600, {"fraction": 0.5})
    got = timeline(
        make_loop(), "pending", [lead, finance], 7200, TimeoutAction.reject, now, [reminder]
    )
    assert [(e["type"], e["offset_seconds"]) for e in got] == [
        ("created", 0),
        ("stage_timeout", 600),
        ("reminder", 3600),
        ("timeout", 7200),
        ("stage_timeout", None),
    ]
    assert got[2]["fraction"] == 0.5 and got[3]["action"] == "reject"
    assert got[3]["at"] == datetime(2026, 1, 1, 2, tzinfo=UTC)
    done = timeline(make_loop(), "auto_rejected", [lead], 7200, TimeoutAction.expire, now)
    assert [(e["type"], e.get("decision")) for e in done] == [
        ("created", None),
        ("completed", "rejected"),
    ]
