"""What one vote does to a request: quorum, rejections, self-approval, answers. No database."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from signoff.domain.canonical import content_hash
from signoff.domain.model import (
    Choice,
    ContentType,
    Decision,
    Loop,
    Principal,
    Priority,
    Request,
    ResponseSpec,
    ResponseType,
    Role,
    Status,
    TimeoutAction,
    Vote,
)
from signoff.domain.voting import Ballot, VoteVerdict, cast_vote
from signoff.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ANN = Principal(Role.reviewer, key_id="key_ann", user_id="usr_ann", user_email="ann@example.com")
BOB = Principal(Role.reviewer, key_id="key_bob", user_id="usr_bob", user_email="bob@example.com")
CAT = Principal(Role.reviewer, key_id="key_cat", user_id="usr_cat", user_email="cat@example.com")
ADMIN = Principal(Role.admin, key_id="key_admin")
_vote_ids = itertools.count()


def make_loop(**changes: Any) -> Loop:
    loop = Loop(
        id="loop_1",
        name="payments",
        description="",
        reviewers=("usr_ann", "usr_bob", "usr_cat"),
        required_approvals=1,
        allow_self_approval=False,
        default_timeout_seconds=None,
        allow_timeout_approval=False,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(loop, **changes)


def make_request(**changes: Any) -> Request:
    request = Request(
        id="req_1",
        loop_id="loop_1",
        status=Status.pending,
        decision=None,
        title=None,
        content="Refund $120 to Bob",
        content_type=ContentType.text,
        content_hash=content_hash("Refund $120 to Bob", None),
        context=None,
        metadata={},
        ai_analysis=None,
        response=ResponseSpec(),
        priority=Priority.normal,
        required_approvals=1,
        requested_by="agent-7",
        created_by_key_id="key_requester",
        created_by_user_id=None,
        timeout_seconds=None,
        timeout_action=TimeoutAction.expire,
        deadline_at=None,
        callback=None,
        previous_request_id=None,
        feedback=None,
        final_content=None,
        edited=False,
        response_data=None,
        decided_by=None,
        created_at=NOW,
        updated_at=NOW,
        completed_at=None,
    )
    return replace(request, **changes)


def vote_of(voter: Principal, ballot: Ballot, request: Request | None = None) -> Vote:
    """A vote as the store would hold it after `cast_vote` accepted `ballot`."""
    return Vote(
        id=f"vote_{next(_vote_ids):04}",
        request_id="req_1",
        voter_id=voter.voter_id,
        voter=voter.actor(),
        choice=ballot.choice,
        feedback=ballot.feedback,
        edited_content=ballot.edited_content,
        response_data=ballot.response_data,
        content_hash=(request or make_request()).content_hash,
        created_at=NOW,
    )


def play(
    request: Request, loop: Loop, ballots: list[tuple[Principal, Ballot]]
) -> list[VoteVerdict]:
    """Cast the ballots one after the other, as the service does, and answer every verdict."""
    votes: list[Vote] = []
    verdicts = []
    for voter, ballot in ballots:
        verdicts.append(cast_vote(request, loop, votes, voter, ballot))
        votes.append(vote_of(voter, ballot, request))
    return verdicts


APPROVE = Ballot(Choice.approve)


# Quorum


@pytest.mark.parametrize("required", [1, 2, 3])
def test_quorum_completes_on_the_last_needed_approval(required: int) -> None:
    request = make_request(required_approvals=required)
    voters = [ANN, BOB, CAT][:required]
    verdicts = play(request, make_loop(), [(v, APPROVE) for v in voters])
    assert [v.approvals for v in verdicts] == list(range(1, required + 1))
    assert [v.outcome is None for v in verdicts] == [True] * (required - 1) + [False]
    outcome = verdicts[-1].outcome
    assert outcome is not None
    assert outcome.decision is Decision.approved
    assert [d["user_id"] for d in outcome.decided_by] == [v.user_id for v in voters]


def test_the_request_quorum_counts_not_the_loop_default() -> None:
    verdict = cast_vote(
        make_request(required_approvals=2), make_loop(required_approvals=1), [], ANN, APPROVE
    )
    assert verdict.outcome is None and verdict.approvals == 1


def test_one_rejection_completes_the_request_rejected() -> None:
    request = make_request(required_approvals=3)
    reject = Ballot(Choice.reject, feedback="wrong amount")
    verdicts = play(request, make_loop(), [(ANN, APPROVE), (BOB, APPROVE), (CAT, reject)])
    outcome = verdicts[-1].outcome
    assert outcome is not None
    assert outcome.decision is Decision.rejected
    assert outcome.feedback == "wrong amount"
    assert outcome.final_content == request.content and outcome.edited is False
    assert [d["user_id"] for d in outcome.decided_by] == ["usr_cat"]
    assert verdicts[-1].approvals == 2


def test_needs_changes_completes_the_request() -> None:
    ballot = Ballot(Choice.needs_changes, feedback="say which Bob")
    verdict = cast_vote(make_request(required_approvals=2), make_loop(), [], ANN, ballot)
    assert verdict.outcome is not None
    assert verdict.outcome.decision is Decision.needs_changes
    assert verdict.outcome.feedback == "say which Bob"
    assert verdict.approvals == 0


# Who may vote


@pytest.mark.parametrize(
    "names",
    [
        {"requested_by": "usr_ann"},
        {"requested_by": "ann@example.com"},
        {"created_by_key_id": "key_ann"},
        {"created_by_user_id": "usr_ann"},
    ],
    ids=["requested_by-user-id", "requested_by-email", "created_by_key_id", "created_by_user_id"],
)
def test_self_approval_is_refused_under_each_name(names: dict[str, str]) -> None:
    request = make_request(**names)
    with pytest.raises(Forbidden, match="own request"):
        cast_vote(request, make_loop(), [], ANN, APPROVE)
    # Someone else may approve it, and the requester may still reject it.
    assert cast_vote(request, make_loop(), [], BOB, APPROVE).outcome is not None
    reject = Ballot(Choice.reject, feedback="I changed my mind")
    assert cast_vote(request, make_loop(), [], ANN, reject).outcome is not None


def test_self_approval_by_an_admin_key_that_created_the_request() -> None:
    request = make_request(created_by_key_id="key_admin")
    with pytest.raises(Forbidden):
        cast_vote(request, make_loop(), [], ADMIN, APPROVE)


def test_allow_self_approval_lets_the_requester_approve() -> None:
    request = make_request(requested_by="usr_ann", created_by_user_id="usr_ann")
    verdict = cast_vote(request, make_loop(allow_self_approval=True), [], ANN, APPROVE)
    assert verdict.outcome is not None and verdict.outcome.decision is Decision.approved


@pytest.mark.parametrize(
    "voter",
    [
        Principal(Role.reviewer, key_id="key_eve", user_id="usr_eve"),
        Principal(Role.requester, key_id="key_req"),
        Principal(Role.requester, key_id="key_ann2", user_id="usr_ann"),
    ],
    ids=["reviewer-of-another-loop", "requester", "requester-key-of-a-reviewer"],
)
def test_only_reviewers_of_the_loop_and_admins_may_vote(voter: Principal) -> None:
    with pytest.raises(Forbidden, match="not a reviewer"):
        cast_vote(make_request(), make_loop(), [], voter, APPROVE)
    assert cast_vote(make_request(), make_loop(), [], ADMIN, APPROVE).outcome is not None


def test_a_second_vote_by_the_same_voter_is_a_conflict() -> None:
    request = make_request(required_approvals=2)
    votes = [vote_of(ANN, APPROVE)]
    with pytest.raises(Conflict, match="already voted"):
        cast_vote(request, make_loop(), votes, ANN, APPROVE)
    # The same person through another key is still the same voter.
    other_key = replace(ANN, key_id="key_ann_laptop")
    with pytest.raises(Conflict, match="already voted"):
        cast_vote(request, make_loop(), votes, other_key, Ballot(Choice.reject, feedback="no"))


def test_a_vote_on_a_request_that_left_pending_is_refused() -> None:
    for status in (Status.completed, Status.cancelled, Status.timed_out):
        with pytest.raises(InvalidTransition):
            cast_vote(make_request(status=status), make_loop(), [], ANN, APPROVE)


def test_a_vote_on_content_that_changed_is_a_conflict() -> None:
    stale = Ballot(Choice.approve, content_hash=content_hash("Refund $12 to Bob", None))
    with pytest.raises(Conflict, match="content changed"):
        cast_vote(make_request(), make_loop(), [], ANN, stale)
    fresh = Ballot(Choice.approve, content_hash=make_request().content_hash)
    assert cast_vote(make_request(), make_loop(), [], ANN, fresh).outcome is not None


@pytest.mark.parametrize(
    "seen", ["", "nonsense", "sha256:x", "sha256:" + "F" * 64, "sha1:" + "0" * 64]
)
def test_a_hash_the_service_never_makes_is_bad_input_whatever_the_request(seen: str) -> None:
    for request in (make_request(), make_request(status=Status.completed)):
        with pytest.raises(ValidationFailed) as refused:
            cast_vote(request, make_loop(), [], ANN, Ballot(Choice.approve, content_hash=seen))
        [error] = refused.value.errors
        assert error.field == "body.content_hash" and "64 lowercase hex digits" in error.message


# What a ballot may carry


@pytest.mark.parametrize("choice", [Choice.reject, Choice.needs_changes])
@pytest.mark.parametrize("feedback", [None, "", "  \n"])
def test_reject_and_needs_changes_need_feedback(choice: Choice, feedback: str | None) -> None:
    with pytest.raises(ValidationFailed) as caught:
        cast_vote(make_request(), make_loop(), [], ANN, Ballot(choice, feedback=feedback))
    assert [e.field for e in caught.value.errors] == ["body.feedback"]


@pytest.mark.parametrize("choice", [Choice.reject, Choice.needs_changes])
def test_edited_content_only_when_approving(choice: Choice) -> None:
    ballot = Ballot(choice, feedback="no", edited_content="Refund $100 to Bob")
    with pytest.raises(ValidationFailed) as caught:
        cast_vote(make_request(), make_loop(), [], ANN, ballot)
    assert [e.field for e in caught.value.errors] == ["body.edited_content"]


def test_edited_content_only_on_approval_requests() -> None:
    request = make_request(response=ResponseSpec(ResponseType.text))
    ballot = Ballot(Choice.approve, edited_content="other", response_data="fine")
    with pytest.raises(ValidationFailed) as caught:
        cast_vote(request, make_loop(), [], ANN, ballot)
    assert [e.field for e in caught.value.errors] == ["body.edited_content"]


def test_the_final_content_is_the_last_edit() -> None:
    request = make_request(required_approvals=3)
    verdicts = play(
        request,
        make_loop(),
        [
            (ANN, Ballot(Choice.approve, feedback="ok", edited_content="Refund $110 to Bob")),
            (BOB, Ballot(Choice.approve, edited_content="Refund $100 to Bob")),
            (CAT, Ballot(Choice.approve, feedback="fine by me")),
        ],
    )
    outcome = verdicts[-1].outcome
    assert outcome is not None
    assert outcome.final_content == "Refund $100 to Bob"
    assert outcome.edited is True
    assert outcome.feedback == "ok\n\nfine by me"


def test_an_edit_back_to_the_original_is_not_an_edit() -> None:
    request = make_request()
    ballot = Ballot(Choice.approve, edited_content=request.content)
    outcome = cast_vote(request, make_loop(), [], ANN, ballot).outcome
    assert outcome is not None
    assert outcome.final_content == request.content and outcome.edited is False


def test_without_edits_the_final_content_is_the_original() -> None:
    outcome = cast_vote(make_request(), make_loop(), [], ANN, APPROVE).outcome
    assert outcome is not None
    assert outcome.final_content == "Refund $120 to Bob" and outcome.edited is False
    assert outcome.feedback is None and outcome.response_data is None


# Answers that must fit the request's response shape

CHOICE_ONE = ResponseSpec(ResponseType.choice, options=("refund", "credit", "nothing"))
CHOICE_MANY = replace(CHOICE_ONE, multiple=True)
TEXT = ResponseSpec(ResponseType.text)
FORM = ResponseSpec(
    ResponseType.form,
    schema={
        "type": "object",
        "properties": {"amount": {"type": "number", "minimum": 0}, "note": {"type": "string"}},
        "required": ["amount"],
        "additionalProperties": False,
    },
)


@pytest.mark.parametrize(
    ("spec", "answer"),
    [
        (CHOICE_ONE, "credit"),
        (CHOICE_ONE, ["credit"]),
        (CHOICE_MANY, ["refund", "credit"]),
        (CHOICE_MANY, "nothing"),
        (TEXT, "Refund it, and say sorry"),
        (FORM, {"amount": 100}),
        (FORM, {"amount": 0, "note": "goodwill"}),
    ],
)
def test_answers_that_fit(spec: ResponseSpec, answer: Any) -> None:
    ballot = Ballot(Choice.approve, response_data=answer)
    outcome = cast_vote(make_request(response=spec), make_loop(), [], ANN, ballot).outcome
    assert outcome is not None and outcome.response_data == answer


@pytest.mark.parametrize(
    ("spec", "answer", "fields"),
    [
        (CHOICE_ONE, None, ["body.response_data"]),
        (CHOICE_ONE, ["refund", "credit"], ["body.response_data"]),
        (CHOICE_ONE, "cash", ["body.response_data"]),
        (CHOICE_MANY, [], ["body.response_data"]),
        (CHOICE_MANY, ["refund", "cash"], ["body.response_data"]),
        (TEXT, None, ["body.response_data"]),
        (TEXT, "   ", ["body.response_data"]),
        (TEXT, 42, ["body.response_data"]),
        (FORM, None, ["body.response_data"]),
        (FORM, {"amount": -1}, ["body.response_data.amount"]),
        (
            FORM,
            {"amount": "ten", "note": 3},
            ["body.response_data.amount", "body.response_data.note"],
        ),
    ],
)
def test_answers_that_do_not_fit(spec: ResponseSpec, answer: Any, fields: list[str]) -> None:
    ballot = Ballot(Choice.approve, response_data=answer)
    with pytest.raises(ValidationFailed) as caught:
        cast_vote(make_request(response=spec), make_loop(), [], ANN, ballot)
    assert [e.field for e in caught.value.errors] == fields


def test_a_form_answer_missing_a_required_field() -> None:
    ballot = Ballot(Choice.approve, response_data={"note": "no amount"})
    with pytest.raises(ValidationFailed) as caught:
        cast_vote(make_request(response=FORM), make_loop(), [], ANN, ballot)
    [error] = caught.value.errors
    assert error.field.startswith("body.response_data")
    assert "amount" in error.field + error.message


def test_a_rejection_needs_no_answer() -> None:
    ballot = Ballot(Choice.reject, feedback="none of these")
    outcome = cast_vote(make_request(response=FORM), make_loop(), [], ANN, ballot).outcome
    assert outcome is not None and outcome.decision is Decision.rejected


def test_the_completing_answer_is_the_response_data() -> None:
    request = make_request(response=TEXT, required_approvals=2)
    ballots = [
        (ANN, Ballot(Choice.approve, response_data="first")),
        (BOB, Ballot(Choice.approve, response_data="second")),
    ]
    outcome = play(request, make_loop(), ballots)[-1].outcome
    assert outcome is not None and outcome.response_data == "second"
