"""Snapshots of entities as events record them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.model import Loop, Request, User, Vote


def rfc3339(value: datetime | None) -> str | None:
    """A UTC time as the API writes it: `2026-11-21T23:44:00.123456Z`."""
    if value is None:
        return None
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def loop_snapshot(loop: Loop) -> dict[str, Any]:
    return {
        "id": loop.id,
        "name": loop.name,
        "description": loop.description,
        "reviewers": list(loop.reviewers),
        "required_approvals": loop.required_approvals,
        "allow_self_approval": loop.allow_self_approval,
        "default_timeout_seconds": loop.default_timeout_seconds,
        "allow_timeout_approval": loop.allow_timeout_approval,
        "default_timeout_action": loop.default_timeout_action.value,
        "pickup_timeout_seconds": loop.pickup_timeout_seconds,
        "reminders": list(loop.reminders),
        "escalation": [step.to_json() for step in loop.escalation],
        "rules": [r.to_json() for r in loop.rules],
        "stages": [s.to_json() for s in loop.stages],
        "assignment": loop.assignment.value,
    }


def request_snapshot(request: Request) -> dict[str, Any]:
    """What the request said when the event happened: the content reviewers decide on."""
    return {
        "request_id": request.id,
        "loop_id": request.loop_id,
        "status": request.status.value,
        "title": request.title,
        "content": request.content,
        "content_type": request.content_type.value,
        "context": request.context,
        "content_hash": request.content_hash,
        "metadata": request.metadata,
        "ai_analysis": request.ai_analysis,
        "priority": request.priority.value,
        "required_approvals": request.required_approvals,
        "requested_by": request.requested_by,
        "previous_request_id": request.previous_request_id,
        "deadline_at": rfc3339(request.deadline_at),
        **stage_snapshot(request),
    }


def stage_snapshot(request: Request) -> dict[str, Any]:
    """The current stage and every stage's progress, for a request of a loop with stages."""
    if not request.stages:
        return {}
    current = request.current_stage
    return {
        "stage": current.name if current else None,
        "stages": [s.to_json() for s in request.stages],
    }


def decision_snapshot(request: Request) -> dict[str, Any]:
    """What a workflow needs to continue: the shape of `request.completed` and of webhooks."""
    return {
        "request_id": request.id,
        "loop_id": request.loop_id,
        "status": request.status.value,
        "decision": request.decision.value if request.decision else None,
        "feedback": request.feedback,
        "content": request.final_content,
        "edited": request.edited,
        "response_data": request.response_data,
        "metadata": request.metadata,
        "decided_by": request.decided_by,
        "content_hash": request.content_hash,
        "completed_at": rfc3339(request.completed_at),
    }


def vote_snapshot(vote: Vote) -> dict[str, Any]:
    return {
        "vote_id": vote.id,
        "voter": vote.voter,
        "choice": vote.choice.value,
        "feedback": vote.feedback,
        "edited_content": vote.edited_content,
        "response_data": vote.response_data,
        "content_hash": vote.content_hash,
    }


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "active": user.active,
    }
