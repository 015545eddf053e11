"""Signoff's entities, in the words of DESIGN.md §2."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any


class Role(StrEnum):
    admin = "admin"
    requester = "requester"
    reviewer = "reviewer"


class UserRole(StrEnum):
    admin = "admin"
    reviewer = "reviewer"


class Status(StrEnum):
    pending = "pending"
    completed = "completed"
    timed_out = "timed_out"
    cancelled = "cancelled"


class Decision(StrEnum):
    approved = "approved"
    rejected = "rejected"
    needs_changes = "needs_changes"


class Choice(StrEnum):
    """What one reviewer answers; a Decision is what the request ends with."""

    approve = "approve"
    reject = "reject"
    needs_changes = "needs_changes"


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class ContentType(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"
    html = "html"
    image_url = "image_url"


class TimeoutAction(StrEnum):
    expire = "expire"
    reject = "reject"
    approve = "approve"


class AssignmentStrategy(StrEnum):
    """How a loop gives its requests to reviewers (see domain/assignment.py)."""

    open = "open"
    round_robin = "round_robin"
    least_loaded = "least_loaded"


class ResponseType(StrEnum):
    approval = "approval"
    choice = "choice"
    text = "text"
    form = "form"


@dataclass(frozen=True)
class LinkGrant:
    """What a review link allows: deciding one request, as the reviewer it was made for."""

    link_id: str
    request_id: str


@dataclass(frozen=True)
class Principal:
    """Who acts: an API key (maybe on behalf of a user), a review link, or the system itself."""

    role: Role
    key_id: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    name: str = ""
    link: LinkGrant | None = None
    # A delegate's vote: the reviewer (user id) they act for while that reviewer is away.
    on_behalf_of: str | None = None

    @property
    def voter_id(self) -> str:
        """A user votes once whichever key or link they use; a key without a user votes as
        itself; a reviewer without an account votes once per email, whatever links they hold."""
        if self.user_id or self.key_id:
            return self.user_id or self.key_id or ""
        if self.link is not None and self.user_email:
            return email_voter_id(self.user_email)
        return "system"

    def actor(self) -> dict[str, Any]:
        if self.link is not None:
            return self._link_actor(self.link)
        if self.key_id is None and self.user_id is None:
            return {"type": "system", "name": self.name or "system"}
        actor: dict[str, Any] = {"type": "api_key" if self.key_id else "user"}
        if self.key_id:
            actor["key_id"] = self.key_id
        if self.user_id:
            actor["user_id"] = self.user_id
            actor["email"] = self.user_email
        actor["role"] = self.role.value
        if self.name:
            actor["name"] = self.name
        if self.on_behalf_of:
            actor["on_behalf_of"] = {"user_id": self.on_behalf_of}
        return actor

    def _link_actor(self, link: LinkGrant) -> dict[str, Any]:
        actor: dict[str, Any] = {"type": "link", "link_id": link.link_id}
        if self.user_id:
            actor["user_id"] = self.user_id
        actor["email"] = self.user_email
        actor["role"] = self.role.value
        if self.name:
            actor["name"] = self.name
        return actor


def email_voter_id(email: str) -> str:
    """The stable voter id of a reviewer known only by email (fits the 40-character id column)."""
    digest = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    return f"eml_{digest[:32]}"


SYSTEM = Principal(role=Role.admin, name="system")


class RuleAction(StrEnum):
    auto_approve = "auto_approve"
    auto_reject = "auto_reject"
    route_to = "route_to"
    require_approvals = "require_approvals"
    set_priority = "set_priority"
    set_timeout = "set_timeout"


@dataclass(frozen=True)
class Rule:
    """When `when` (a CEL condition on the new request) holds, do `action` with its argument."""

    when: str
    action: RuleAction
    loop_id: str | None = None  # route_to
    approvals: int | None = None  # require_approvals
    priority: Priority | None = None  # set_priority
    timeout_seconds: int | None = None  # set_timeout

    @property
    def argument(self) -> dict[str, Any]:
        names = ("loop_id", "approvals", "priority", "timeout_seconds")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def to_json(self) -> dict[str, Any]:
        return {"when": self.when, "action": self.action.value, **self.argument}


@dataclass(frozen=True)
class Stage:
    """One step of a loop's approval sequence; no `reviewers` means any reviewer of the loop."""

    name: str
    reviewers: tuple[str, ...] = ()
    required_approvals: int = 1
    when: str | None = None  # the stage applies only when this CEL condition holds
    timeout_seconds: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reviewers": list(self.reviewers),
            "required_approvals": self.required_approvals,
            "when": self.when,
            "timeout_seconds": self.timeout_seconds,
        }


class StageStatus(StrEnum):
    waiting = "waiting"  # not reached yet
    active = "active"
    approved = "approved"
    skipped = "skipped"  # its `when` did not hold when the request reached it
    ended = "ended"  # the request ended at this stage: rejected, changes asked, cancelled …


@dataclass(frozen=True)
class RequestStage:
    """A loop's stage as a request carries it: copied when the request is made, with progress."""

    stage: Stage
    status: StageStatus = StageStatus.waiting

    def to_json(self) -> dict[str, Any]:
        return {**self.stage.to_json(), "status": self.status.value}


@dataclass(frozen=True)
class Loop:
    id: str
    name: str
    description: str
    reviewers: tuple[str, ...]
    required_approvals: int
    allow_self_approval: bool
    default_timeout_seconds: int | None
    allow_timeout_approval: bool
    created_at: datetime
    updated_at: datetime
    # Time (issue 5): the loop's default timeout action, its pickup clock, its reminders (fractions
    # of the time to decide) and its escalation ladder (domain/timers.py EscalationStep).
    default_timeout_action: TimeoutAction = TimeoutAction.expire
    pickup_timeout_seconds: int | None = None
    reminders: tuple[float, ...] = ()
    escalation: tuple[Any, ...] = ()
    # Rules and stages (see domain/rules.py): evaluated in order on each new request.
    rules: tuple[Rule, ...] = ()
    stages: tuple[Stage, ...] = ()
    assignment: AssignmentStrategy = AssignmentStrategy.open


@dataclass(frozen=True)
class ResponseSpec:
    type: ResponseType = ResponseType.approval
    options: tuple[str, ...] = ()
    multiple: bool = False
    schema: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.value}
        if self.type is ResponseType.choice:
            out["options"] = list(self.options)
            out["multiple"] = self.multiple
        if self.type is ResponseType.form:
            out["schema"] = self.schema
        return out


@dataclass(frozen=True)
class Callback:
    url: str
    events: tuple[str, ...] | None = None
    auth_strategy: str | None = None


@dataclass(frozen=True)
class Request:
    id: str
    loop_id: str
    status: Status
    decision: Decision | None
    title: str | None
    content: Any
    content_type: ContentType
    content_hash: str
    context: Any
    metadata: dict[str, Any]
    ai_analysis: dict[str, Any] | None
    response: ResponseSpec
    priority: Priority
    required_approvals: int
    requested_by: str | None
    created_by_key_id: str | None
    created_by_user_id: str | None
    timeout_seconds: int | None
    timeout_action: TimeoutAction
    deadline_at: datetime | None
    callback: Callback | None
    previous_request_id: str | None
    feedback: str | None
    final_content: Any
    edited: bool
    response_data: Any
    decided_by: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    # Time (issue 5): the pickup clock, the escalation level and who escalation brought in.
    picked_up_at: datetime | None = None
    pickup_deadline_at: datetime | None = None
    escalation_level: int = 0
    added_reviewers: tuple[str, ...] = ()
    # A request of a loop with stages: the stages copied from the loop, and the current one.
    stages: tuple[RequestStage, ...] = ()
    stage: int | None = None
    stage_started_at: datetime | None = None
    # Filled in by the use cases that answer a request (service/assignments.py).
    assignees: tuple[Assignee, ...] = ()
    claim: Claim | None = None

    @property
    def is_pending(self) -> bool:
        return self.status is Status.pending

    @property
    def current_stage(self) -> Stage | None:
        return self.stages[self.stage].stage if self.stage is not None else None


@dataclass(frozen=True)
class Assignee:
    """A reviewer a request is assigned to, and who acts for them while they are away."""

    user_id: str
    delegate_id: str | None
    assigned_at: datetime


@dataclass(frozen=True)
class Claim:
    """Who is deciding a request right now (a user id, or a key's); others see it until `until`."""

    claimed_by: str
    claimed_at: datetime
    until: datetime


@dataclass(frozen=True)
class Absence:
    """A reviewer away from `away_from` until `away_until` (None: until cleared)."""

    user_id: str
    away_from: datetime
    away_until: datetime | None
    delegate_id: str | None

    def covers(self, now: datetime) -> bool:
        return self.away_from <= now and (self.away_until is None or now < self.away_until)


@dataclass(frozen=True)
class Vote:
    id: str
    request_id: str
    voter_id: str
    voter: dict[str, Any]
    choice: Choice
    feedback: str | None
    edited_content: Any
    response_data: Any
    content_hash: str
    created_at: datetime
    voided_at: datetime | None = None
    stage: int | None = None  # the index of the stage it was cast in, on a loop with stages


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: UserRole
    active: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime
    # How the user hears of work for them: {"channel": "email" | "chat" | "none", "url": …};
    # None is the default, email.
    notify: dict[str, Any] | None = None
    away: Absence | None = None


@dataclass(frozen=True)
class ApiKey:
    id: str
    prefix: str
    name: str
    role: Role
    user_id: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Event:
    id: str
    seq: int | None
    type: str
    occurred_at: datetime
    actor: dict[str, Any]
    request_id: str | None
    loop_id: str | None
    data: dict[str, Any]
    hash: str | None = None
    prev_hash: str | None = None


@dataclass
class NewEvent:
    """An event about to be written in the same transaction as the change it records."""

    type: str
    actor: dict[str, Any]
    data: dict[str, Any]
    request_id: str | None = None
    loop_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The request's callback, when the use case has the request at hand (saves a query).
    callback: Callback | None = None
    callback_known: bool = False


# Every event type Signoff writes; webhook subscriptions are checked against it.
EVENT_TYPES: tuple[str, ...] = (
    "request.created",
    "request.updated",
    "request.vote",
    "request.votes_voided",
    "request.stage_completed",
    "request.completed",
    "request.cancelled",
    "request.timed_out",
    "request.reminder",
    "request.pickup_overdue",
    "request.escalated",
    "request.assigned",
    "loop.created",
    "loop.updated",
    "loop.deleted",
    "user.created",
    "user.updated",
    "user.invited",
    "api_key.created",
    "api_key.revoked",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "webhook.secret_rotated",
    "webhook.disabled",
    "webhook.redelivery",
    "webhook.test",
    "review_link.issued",
    "review_link.revoked",
)


class MessageStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    description: str
    events: tuple[str, ...] | None
    loop_id: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_until: datetime | None
    created_by_key_id: str | None
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str, loop_id: str | None) -> bool:
        if not self.enabled:
            return False
        if self.loop_id is not None and self.loop_id != loop_id:
            return False
        return self.events is None or any(fnmatchcase(event_type, e) for e in self.events)


@dataclass(frozen=True)
class Message:
    """One event on its way to one endpoint or callback."""

    id: str
    event_id: str
    event_type: str
    endpoint_id: str | None
    request_id: str | None
    url: str
    payload: str
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    channel: str | None = None  # None: a webhook; "email" or "chat": a notification to a person

    @property
    def is_notification(self) -> bool:
        return self.channel is not None


@dataclass(frozen=True)
class Attempt:
    """What one try to deliver a message gave."""

    attempted_at: datetime
    latency_ms: float
    status_code: int | None = None
    response_excerpt: str | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
