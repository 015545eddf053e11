"""Random sequences of votes, updates and cancels against the real service layer.

A small model says what each step must do (be recorded, complete the request, or be refused with
which error); after every sequence the database must agree with it, with its own events and
with the hash chain. Runs on SQLite and on PostgreSQL, a database per test, a request per example.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from signoff.app import build_context
from signoff.config import Settings
from signoff.domain.canonical import content_hash
from signoff.domain.model import SYSTEM, Choice, Decision, Principal, Role, Status, UserRole
from signoff.domain.voting import Ballot
from signoff.errors import Conflict, Forbidden, InvalidTransition, SignoffError, ValidationFailed
from signoff.service import events as event_service
from signoff.service import loops as loop_service
from signoff.service import requests as request_service
from signoff.service import users as user_service
from signoff.service import votes as vote_service
from signoff.service.context import Context, seal
from signoff.service.requests import RequestDraft
from signoff.store import requests as request_store
from signoff.store.db import Conn
from signoff.store.events import list_request_events

REVIEWERS = ("ann", "bob", "cat", "dan")  # dan also asks for things
VOTERS = (*REVIEWERS, "eve", "admin", "requester")  # eve reviews another loop
CREATORS = ("requester", "admin", "dan_requester")
REQUESTED_BY = (None, "dan-id", "dan-email", "agent-7")
FIRST_CONTENT = "A"


@dataclass(frozen=True)
class World:
    """The people, keys and loops every example shares."""

    who: dict[str, Principal]
    strict_loop: str
    lenient_loop: str  # allow_self_approval


async def build_world(ctx: Context) -> World:
    users = {}
    for name in (*REVIEWERS, "eve"):
        email = f"{name}@example.com"
        users[name] = await user_service.create_user(
            ctx, SYSTEM, email, name.title(), UserRole.reviewer, None
        )
    keys = {name: (Role.reviewer, users[name].id) for name in users}
    keys |= {
        "admin": (Role.admin, None),
        "requester": (Role.requester, None),
        "dan_requester": (Role.requester, users["dan"].id),
    }
    who = {}
    for name, (role, user_id) in keys.items():
        created = await user_service.create_key(ctx, SYSTEM, name, role, user_id)
        who[name] = await user_service.authenticate(ctx, created.secret)
    reviewers = tuple(users[name].id for name in REVIEWERS)
    strict = await loop_service.create_loop(
        ctx, SYSTEM, loop_service.LoopDraft("strict", reviewers=reviewers)
    )
    lenient = await loop_service.create_loop(
        ctx,
        SYSTEM,
        loop_service.LoopDraft("lenient", reviewers=reviewers, allow_self_approval=True),
    )
    await loop_service.create_loop(
        ctx, SYSTEM, loop_service.LoopDraft("elsewhere", reviewers=(users["eve"].id,))
    )
    return World(who, strict.id, lenient.id)


# The steps


@dataclass(frozen=True)
class VoteStep:
    voter: str
    choice: Choice
    feedback: str | None
    edit: str | None
    stale: bool  # sends the content_hash of the first content, as a client that read it would


@dataclass(frozen=True)
class CancelStep:
    actor: str


@dataclass(frozen=True)
class UpdateStep:
    content: str


@dataclass(frozen=True)
class Plan:
    required: int
    lenient: bool
    creator: str
    requested_by: str | None
    steps: list[VoteStep | CancelStep | UpdateStep]


# Weighted so that most sequences get somewhere: mostly reviewers of the loop voting with
# feedback, sometimes someone who may not, now and then an update or a cancel.
votes = st.builds(
    VoteStep,
    voter=st.sampled_from(REVIEWERS * 2 + ("dan", "dan", "admin", "admin", "eve", "requester")),
    choice=st.sampled_from([Choice.approve] * 4 + [Choice.reject, Choice.needs_changes]),
    feedback=st.sampled_from([None, "because", "because", "because"]),
    edit=st.sampled_from([None, None, "edited-1", "edited-2"]),
    stale=st.sampled_from([False, False, False, True]),
)
steps = st.integers(0, 19).flatmap(
    lambda n: (
        st.builds(CancelStep, st.sampled_from(["admin", "requester"]))
        if n == 0
        else st.builds(UpdateStep, st.sampled_from(["A", "B", "C"]))
        if n <= 3
        else votes
    )
)
plans = st.builds(
    Plan,
    required=st.integers(1, 3),
    lenient=st.sampled_from([False, False, False, True]),
    creator=st.sampled_from(CREATORS),
    requested_by=st.sampled_from(REQUESTED_BY),
    steps=st.lists(steps, min_size=1, max_size=15),
)


# The model


@dataclass
class Model:
    plan: Plan
    status: Status = Status.pending
    decision: Decision | None = None
    content: str = FIRST_CONTENT
    final_content: str | None = None
    live: dict[str, VoteStep] = field(default_factory=dict)  # by voter name, in voting order
    recorded: int = 0
    voided: int = 0

    def is_self(self, voter: str) -> bool:
        """Whether `voter` asked for the request, under any of its names."""
        if voter == "dan":
            return self.plan.requested_by in ("dan-id", "dan-email") or (
                self.plan.creator == "dan_requester"
            )
        return voter == "admin" and self.plan.creator == "admin"

    def vote(self, step: VoteStep) -> type[SignoffError] | None:
        """The error the step must raise, or None after applying it."""
        if self.status is not Status.pending:
            return InvalidTransition
        if step.voter not in (*REVIEWERS, "admin"):
            return Forbidden
        if step.stale and self.content != FIRST_CONTENT:
            return Conflict
        if step.voter in self.live:
            return Conflict
        if step.choice is Choice.approve:
            if self.is_self(step.voter) and not self.plan.lenient:
                return Forbidden
        elif not step.feedback:
            return ValidationFailed
        if step.edit is not None and step.choice is not Choice.approve:
            return ValidationFailed
        self.live[step.voter] = step
        self.recorded += 1
        if step.choice is Choice.reject:
            self._complete(Decision.rejected, self.content)
        elif step.choice is Choice.needs_changes:
            self._complete(Decision.needs_changes, self.content)
        elif sum(v.choice is Choice.approve for v in self.live.values()) >= self.plan.required:
            edits = [v.edit for v in self.live.values() if v.edit is not None]
            self._complete(Decision.approved, edits[-1] if edits else self.content)
        return None

    def _complete(self, decision: Decision, final_content: str) -> None:
        self.status, self.decision, self.final_content = Status.completed, decision, final_content

    def cancel(self) -> type[SignoffError] | None:
        if self.status is not Status.pending:
            return InvalidTransition
        self.status = Status.cancelled
        return None

    def update(self, step: UpdateStep) -> type[SignoffError] | None:
        if self.status is not Status.pending:
            return InvalidTransition
        if step.content != self.content:
            self.voided += len(self.live)
            self.live.clear()
        self.content = step.content
        return None


# Playing a plan


async def play(ctx: Context, world: World, plan: Plan) -> None:
    who = world.who
    requested_by = {
        "dan-id": who["dan"].user_id,
        "dan-email": who["dan"].user_email,
    }.get(plan.requested_by or "", plan.requested_by)
    draft = RequestDraft(
        content=FIRST_CONTENT, required_approvals=plan.required, requested_by=requested_by
    )
    loop_id = world.lenient_loop if plan.lenient else world.strict_loop
    [request] = await request_service.create_requests(
        ctx, who[plan.creator], loop_id, [draft], batch=False
    )
    first_hash = content_hash(FIRST_CONTENT, None)
    model = Model(plan)
    for number, step in enumerate(plan.steps):
        try:
            if isinstance(step, VoteStep):
                expected = model.vote(step)
                ballot = Ballot(
                    step.choice,
                    feedback=step.feedback,
                    edited_content=step.edit,
                    content_hash=first_hash if step.stale else None,
                )
                await vote_service.vote(ctx, who[step.voter], request.id, ballot)
            elif isinstance(step, CancelStep):
                expected = model.cancel()
                await request_service.cancel_request(ctx, who[step.actor], request.id, "stop")
            else:
                expected = model.update(step)
                changes = {"content": step.content}
                await request_service.update_request(ctx, who["requester"], request.id, changes)
        except SignoffError as exc:
            assert type(exc) is expected, f"step {number} {step}: raised {exc!r}"
        else:
            assert expected is None, f"step {number} {step}: should raise {expected.__name__}"
    async with ctx.db.read() as conn:
        live_voters = [who[name].voter_id for name in model.live]
        await check_request(conn, model, request.id, live_voters)
    await check_chain(ctx)


async def check_request(conn: Conn, model: Model, request_id: str, live_voters: list[str]) -> None:
    request = await request_store.get_request(conn, request_id)
    assert request is not None
    events = await list_request_events(conn, request_id)
    rows = await request_store.all_votes(conn, request_id)
    types = [e.type for e in events]

    # It left pending at most once, as the model says, and its status agrees with its events.
    assert (request.status, request.decision) == (model.status, model.decision)
    ends = [i for i, t in enumerate(types) if t in ("request.completed", "request.cancelled")]
    assert len(ends) == (0 if model.status is Status.pending else 1), types
    if model.status is Status.completed:
        completed = events[ends[0]]
        assert completed.type == "request.completed"
        assert completed.data["decision"] == request.decision
        assert completed.data["status"] == "completed"
        assert request.final_content == completed.data["content"] == model.final_content
        assert request.edited is (model.final_content != model.content)
        assert request.completed_at is not None
    elif model.status is Status.cancelled:
        assert types[ends[0]] == "request.cancelled" and request.completed_at is not None
    else:
        assert request.completed_at is None and request.decision is None

    # Nothing was recorded after it left pending.
    if ends:
        assert not set(types[ends[0] + 1 :]), types
        assert request.completed_at is not None
        assert all(v.created_at <= request.completed_at for v in rows)

    # The votes recorded are the votes the events tell of, and the live ones the model's.
    vote_events = [e for e in events if e.type == "request.vote"]
    assert [e.data["vote_id"] for e in vote_events] == [v.id for v in rows]
    assert [e.data["choice"] for e in vote_events] == [v.choice.value for v in rows]
    assert len(rows) == model.recorded
    voided = sum(e.data["voided"] for e in events if e.type == "request.votes_voided")
    assert voided == model.voided == sum(v.voided_at is not None for v in rows)
    live = [v for v in rows if v.voided_at is None]
    assert [v.voter_id for v in live] == live_voters
    assert all(v.content_hash == content_hash(model.content, None) for v in live)


async def check_chain(ctx: Context) -> None:
    if not ctx.db.is_sqlite:
        await seal(ctx)
    verdict, unsealed = await event_service.verify_chain(ctx)
    assert verdict.ok, verdict
    assert unsealed == 0


def test_random_sequences_leave_pending_once(settings: Settings) -> None:
    with asyncio.Runner() as runner:
        ctx = build_context(settings, "http://testserver")
        try:
            world = runner.run(build_world(ctx))

            @hypothesis_settings(
                max_examples=40,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                # No explain phase: on a failure it replays hundreds of sequences on the database.
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
            )
            @given(plan=plans)
            def run(plan: Plan) -> None:
                runner.run(play(ctx, world, plan))

            run()
        finally:
            runner.run(ctx.db.dispose())
