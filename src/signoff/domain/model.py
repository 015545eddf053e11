"""Signoff's entities, in the words of DESIGN.md §2."""

from __future__ import annotations

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
class Principal:
    """Who acts: an API key (maybe on behalf of a user), or the system itself."""

    role: Role
    key_id: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    name: str = ""
    # A delegate's vote: the reviewer (user id) they act for while that reviewer is away.
    on_behalf_of: str | None = None

    @property
    def voter_id(self) -> str:
        """A user votes once whichever key they use; a key without a user votes as itself."""
        return self.user_id or self.key_id or "system"

    def actor(self) -> dict[str, Any]:
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


SYSTEM = Principal(role=Role.admin, name="system")


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
    # Filled in by the use cases that answer a request (service/assignments.py).
    assignees: tuple[Assignee, ...] = ()
    claim: Claim | None = None

    @property
    def is_pending(self) -> bool:
        return self.status is Status.pending


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
    "request.completed",
    "request.cancelled",
    "request.assigned",
    "loop.created",
    "loop.updated",
    "loop.deleted",
    "user.created",
    "user.updated",
    "api_key.created",
    "api_key.revoked",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "webhook.secret_rotated",
    "webhook.disabled",
    "webhook.redelivery",
    "webhook.test",
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
