"""Domain objects to API shapes."""

from __future__ import annotations

from ..domain.model import ApiKey, Event, Loop, Priority, Request, User
from ..domain.simulation import Simulation
from ..service.context import Context
from ..service.requests import review_url
from .schemas import (
    ApiKeyOut,
    AssigneeOut,
    AwayOut,
    CallbackOut,
    ClaimOut,
    EventOut,
    FiredRuleOut,
    LoopOut,
    PersonOut,
    RequestOut,
    RequestStageOut,
    ResponseOut,
    RuleErrorOut,
    RuleOut,
    SimulatedStageOut,
    SimulationOut,
    StageOut,
    TimelineEntryOut,
    UserOut,
)


def loop_out(loop: Loop) -> LoopOut:
    return LoopOut(
        id=loop.id,
        name=loop.name,
        description=loop.description,
        reviewers=list(loop.reviewers),
        required_approvals=loop.required_approvals,
        allow_self_approval=loop.allow_self_approval,
        default_timeout_seconds=loop.default_timeout_seconds,
        allow_timeout_approval=loop.allow_timeout_approval,
        default_timeout_action=loop.default_timeout_action,
        pickup_timeout_seconds=loop.pickup_timeout_seconds,
        reminders=list(loop.reminders),
        escalation=[step.to_json() for step in loop.escalation],
        rules=[RuleOut(**r.to_json()) for r in loop.rules],
        stages=[StageOut(**s.to_json()) for s in loop.stages],
        assignment=loop.assignment,
        created_at=loop.created_at,
        updated_at=loop.updated_at,
    )


def request_out(ctx: Context, r: Request) -> RequestOut:
    callback = None
    if r.callback:
        auth = {"strategy": r.callback.auth_strategy} if r.callback.auth_strategy else None
        events = list(r.callback.events) if r.callback.events else None
        callback = CallbackOut(url=r.callback.url, events=events, auth=auth)
    return RequestOut(
        id=r.id,
        loop_id=r.loop_id,
        status=r.status,
        decision=r.decision,
        title=r.title,
        content=r.content,
        content_type=r.content_type,
        content_hash=r.content_hash,
        context=r.context,
        metadata=r.metadata,
        ai_analysis=r.ai_analysis,
        response=r.response.to_json(),
        priority=r.priority,
        required_approvals=r.required_approvals,
        requested_by=r.requested_by,
        timeout_seconds=r.timeout_seconds,
        timeout_action=r.timeout_action,
        deadline_at=r.deadline_at,
        callback=callback,
        previous_request_id=r.previous_request_id,
        feedback=r.feedback,
        final_content=r.final_content,
        edited=r.edited,
        response_data=r.response_data,
        decided_by=r.decided_by,
        review_url=review_url(ctx, r.id),
        created_at=r.created_at,
        updated_at=r.updated_at,
        completed_at=r.completed_at,
        picked_up_at=r.picked_up_at,
        pickup_deadline_at=r.pickup_deadline_at,
        escalation_level=r.escalation_level,
        added_reviewers=list(r.added_reviewers),
        stage=r.current_stage.name if r.current_stage else None,
        stages=[RequestStageOut(**s.to_json()) for s in r.stages] if r.stages else None,
        assignees=[AssigneeOut(**a.__dict__) for a in r.assignees],
        claim=ClaimOut(**r.claim.__dict__) if r.claim else None,
    )


def _person(user_id: str, people: dict[str, User]) -> PersonOut:
    user = people.get(user_id)
    return PersonOut(
        id=user_id, email=user.email if user else None, name=user.name if user else None
    )


def simulation_out(sim: Simulation, people: dict[str, User]) -> SimulationOut:
    decided = sim.plan.decided_by
    return SimulationOut(
        loop_id=sim.loop_id,
        routed_to=sim.routed_to,
        outcome=sim.outcome,
        rule=FiredRuleOut(**decided.to_json()) if decided else None,
        rules_fired=[FiredRuleOut(**f.to_json()) for f in sim.plan.fired],
        rule_errors=[RuleErrorOut(**e.to_json()) for e in sim.plan.errors],
        priority=Priority(sim.priority),
        required_approvals=sim.required_approvals,
        reviewers=[_person(r, people) for r in sim.reviewers],
        stages=[
            SimulatedStageOut(
                index=i,
                name=s.stage.name,
                applies=applies,
                reviewers=[_person(r, people) for r in s.stage.reviewers or sim.reviewers],
                required_approvals=s.stage.required_approvals,
                when=s.stage.when,
                timeout_seconds=s.stage.timeout_seconds,
            )
            for i, (s, applies) in enumerate(zip(sim.stages, sim.stage_applies, strict=True))
        ],
        timeout_seconds=sim.timeout_seconds,
        timeout_action=sim.timeout_action,
        timeline=[TimelineEntryOut(**e) for e in sim.timeline],
    )


def response_out(r: Request) -> ResponseOut:
    return ResponseOut(
        request_id=r.id,
        status=r.status,
        decision=r.decision,
        feedback=r.feedback,
        content=r.final_content,
        edited=r.edited,
        response_data=r.response_data,
        decided_by=r.decided_by,
        completed_at=r.completed_at,
    )


def event_out(e: Event) -> EventOut:
    return EventOut(
        id=e.id,
        seq=e.seq,
        type=e.type,
        occurred_at=e.occurred_at,
        actor=e.actor,
        request_id=e.request_id,
        loop_id=e.loop_id,
        data=e.data,
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


def user_out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        email=u.email,
        name=u.name,
        role=u.role,
        active=u.active,
        has_password=u.has_password,
        created_at=u.created_at,
        updated_at=u.updated_at,
        notify=u.notify or {"channel": "email"},
        away=AwayOut(
            away_from=u.away.away_from,
            away_until=u.away.away_until,
            delegate_id=u.away.delegate_id,
        )
        if u.away
        else None,
    )


def key_out(k: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=k.id,
        prefix=k.prefix,
        name=k.name,
        role=k.role,
        user_id=k.user_id,
        created_at=k.created_at,
        revoked_at=k.revoked_at,
    )
