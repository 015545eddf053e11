"""The JSON shapes of the API. Inputs forbid unknown fields, so a typo is an error, not a no-op."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from ..domain.model import (
    AssignmentStrategy,
    Choice,
    ContentType,
    Decision,
    Priority,
    ResponseType,
    Role,
    RuleAction,
    StageStatus,
    Status,
    TimeoutAction,
    UserRole,
)

T = TypeVar("T")
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Strict: JSON true, not "yes"; 2, not "2" or 2.0. A typed API says so when a type is wrong.
Flag = Annotated[bool, Strict()]
Timeout = Annotated[int, Strict(), Field(ge=1, le=365 * 24 * 3600)]
Approvals = Annotated[int, Strict(), Field(ge=1, le=100)]
# An event type such as `request.completed`, or a pattern: `request.*`, `*`.
EventPattern = Annotated[str, StringConstraints(pattern=r"^[a-z_]+(\.[a-z_]+|\.\*)?$|^\*$")]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def unstorable(value: Any, where: str = "") -> str | None:
    """Why `value` cannot be stored and answered as JSON text, or None when it can.

    Python's JSON parser lets through what a database or a JSON answer cannot hold: NaN and
    Infinity, lone surrogates (not encodable as UTF-8) and NUL characters (PostgreSQL text).
    """
    at = f" (at {where.lstrip('.')})" if where else ""
    if isinstance(value, str):
        if "\x00" in value:
            return f"contains a NUL character{at}"
        try:
            value.encode()
        except UnicodeEncodeError:
            return f"contains a lone surrogate, which is not Unicode text{at}"
    elif isinstance(value, float) and not math.isfinite(value):
        return f"NaN and Infinity are not JSON numbers{at}"
    elif isinstance(value, dict):
        for key, item in value.items():
            found = unstorable(key, f"{where}.{key!s:.40}") or unstorable(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = unstorable(item, f"{where}.{i}")
            if found:
                return found
    return None


def _storable(value: Any) -> Any:
    problem = unstorable(value)
    if problem:
        raise ValueError(problem)
    return value


class _Checked(BaseModel):
    # Fields that may be left out of a PATCH but never set to null.
    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _check_field(cls, value: Any, info: ValidationInfo) -> Any:
        # A field validator, not a model one, so that the error names the field.
        if value is None and info.field_name in cls.not_null:
            raise ValueError("cannot be null")
        return _storable(value)


class Input(_Checked):
    model_config = ConfigDict(extra="forbid")

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, by_alias=False)


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


# Loops

# A reminder: a fraction of the time to decide, such as 0.5 (half-way to the deadline).
Fraction = Annotated[float, Strict(False), Field(gt=0, lt=1)]


class EscalationStepIn(Input):
    """A rung of the escalation ladder: `after_seconds` from creation, add reviewers to the
    request and/or route it to another loop. It stays pending; its escalation level rises."""

    after_seconds: Timeout
    add_reviewers: list[str] = Field(default_factory=list, max_length=100)
    route_to: str | None = Field(default=None, max_length=40)


Condition = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    Field(description="A CEL condition on the request, e.g. `metadata.amount < 100`."),
]


class RuleIn(Input):
    """`{"when": …, "action": …}` and the action's argument beside it."""

    when: Condition
    action: RuleAction
    loop_id: str | None = Field(default=None, max_length=40, description="for route_to")
    approvals: Approvals | None = Field(default=None, description="for require_approvals")
    priority: Priority | None = Field(default=None, description="for set_priority")
    timeout_seconds: Timeout | None = Field(default=None, description="for set_timeout")


class StageIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    reviewers: list[str] = Field(
        default_factory=list, max_length=1000, description="Empty: any reviewer of the loop."
    )
    required_approvals: Approvals = 1
    when: Condition | None = Field(default=None, description="The stage applies only when true.")
    timeout_seconds: Timeout | None = None


class RuleOut(BaseModel):
    when: str
    action: RuleAction
    loop_id: str | None = None
    approvals: int | None = None
    priority: Priority | None = None
    timeout_seconds: int | None = None


class StageOut(BaseModel):
    name: str
    reviewers: list[str]
    required_approvals: int
    when: str | None
    timeout_seconds: int | None


class RequestStageOut(StageOut):
    status: StageStatus


class LoopIn(Input):
    name: Name
    description: str = Field(default="", max_length=10_000)
    reviewers: list[str] = Field(default_factory=list, max_length=1000)
    required_approvals: Approvals = 1
    allow_self_approval: Flag = False
    default_timeout_seconds: Timeout | None = None
    allow_timeout_approval: Flag = False
    default_timeout_action: TimeoutAction = Field(
        default=TimeoutAction.expire,
        description="What a timeout does to a request that names none: expire (timed_out), "
        "reject, or approve (only with allow_timeout_approval).",
    )
    pickup_timeout_seconds: Timeout | None = Field(
        default=None, description="Time for someone to open, claim or vote on a request."
    )
    reminders: list[Fraction] = Field(
        default_factory=list,
        max_length=10,
        description="When to remind reviewers, as rising fractions of the time to decide.",
    )
    escalation: list[EscalationStepIn] = Field(default_factory=list, max_length=10)
    rules: list[RuleIn] = Field(default_factory=list, max_length=100)
    stages: list[StageIn] = Field(default_factory=list, max_length=20)
    assignment: AssignmentStrategy = Field(
        default=AssignmentStrategy.open,
        description="open: every reviewer sees each request and claims it; round_robin: the "
        "next reviewers in turn; least_loaded: those with the fewest pending assignments.",
    )


class LoopPatch(Input):
    not_null: ClassVar[frozenset[str]] = frozenset(
        {
            "name",
            "description",
            "reviewers",
            "required_approvals",
            "allow_self_approval",
            "allow_timeout_approval",
            "rules",
            "stages",
            "assignment",
        }
    )
    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    reviewers: list[str] | None = Field(default=None, max_length=1000)
    required_approvals: Approvals | None = None
    allow_self_approval: Flag | None = None
    default_timeout_seconds: Timeout | None = None
    allow_timeout_approval: Flag | None = None
    default_timeout_action: TimeoutAction | None = None
    pickup_timeout_seconds: Timeout | None = None
    reminders: list[Fraction] | None = Field(default=None, max_length=10)
    escalation: list[EscalationStepIn] | None = Field(default=None, max_length=10)
    rules: list[RuleIn] | None = Field(default=None, max_length=100)
    stages: list[StageIn] | None = Field(default=None, max_length=20)
    assignment: AssignmentStrategy | None = None


class LoopOut(BaseModel):
    id: str
    name: str
    description: str
    reviewers: list[str]
    required_approvals: int
    allow_self_approval: bool
    default_timeout_seconds: int | None
    allow_timeout_approval: bool
    default_timeout_action: TimeoutAction
    pickup_timeout_seconds: int | None
    reminders: list[float]
    escalation: list[dict[str, Any]]
    rules: list[RuleOut]
    stages: list[StageOut]
    assignment: AssignmentStrategy
    created_at: datetime
    updated_at: datetime


# Dry run: POST /v1/loops/{loop_id}/simulate


class PersonOut(BaseModel):
    id: str
    email: str | None
    name: str | None


class FiredRuleOut(RuleOut):
    index: int


class RuleErrorOut(BaseModel):
    index: int
    when: str
    error: str


class SimulatedStageOut(BaseModel):
    index: int
    name: str
    applies: bool = Field(description="Whether the stage's `when` holds for this request now.")
    reviewers: list[PersonOut] = Field(description="Who would be asked at this stage.")
    required_approvals: int
    when: str | None
    timeout_seconds: int | None


class TimelineEntryOut(BaseModel):
    """One thing that would happen: `type` (created, completed, stage_timeout, timeout, …)."""

    model_config = ConfigDict(extra="allow")
    type: str
    offset_seconds: int | None = Field(description="Seconds after creation; null: it depends.")
    at: datetime | None


class SimulationOut(BaseModel):
    loop_id: str
    routed_to: str | None = Field(description="The loop a route_to rule would send it to.")
    outcome: Literal["auto_approved", "auto_rejected", "pending"]
    rule: FiredRuleOut | None = Field(description="The rule that decides where it goes, if any.")
    rules_fired: list[FiredRuleOut]
    rule_errors: list[RuleErrorOut] = Field(
        description="Rules whose condition could not be evaluated on this request (not fired)."
    )
    priority: Priority
    required_approvals: int
    reviewers: list[PersonOut] = Field(description="The reviewers of the loop it would go to.")
    stages: list[SimulatedStageOut]
    timeout_seconds: int | None
    timeout_action: TimeoutAction
    timeline: list[TimelineEntryOut]


# Requests


class ResponseSpecIn(Input):
    type: ResponseType = ResponseType.approval
    options: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] | None = Field(
        default=None, max_length=100
    )
    multiple: Flag = False
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AiAnalysis(_Checked):
    """What an AI said about its own output; extra keys are kept."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Annotated[JsonValue, AfterValidator(_storable)]] = Field(
        init=False
    )
    confidence: float | None = Field(default=None, ge=0, le=1)
    risk_score: float | None = Field(default=None, ge=0, le=1)
    flags: list[str] | None = None
    summary: str | None = None


class BearerAuth(Input):
    strategy: Literal["bearer"]
    token: str = Field(min_length=1, max_length=4096)


class BasicAuth(Input):
    strategy: Literal["basic"]
    username: str = Field(min_length=1, max_length=500)
    password: str = Field(max_length=4096)


class CallbackIn(Input):
    url: AnyHttpUrl
    events: list[EventPattern] | None = None
    auth: Annotated[BearerAuth | BasicAuth, Field(discriminator="strategy")] | None = None


class RequestIn(Input):
    # `content_type` comes first so that the check of `content` can see it.
    content_type: ContentType = ContentType.text
    content: JsonValue
    title: str | None = Field(default=None, max_length=500)
    priority: Priority = Priority.normal
    context: JsonValue = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    ai_analysis: AiAnalysis | None = None
    response: ResponseSpecIn | None = None
    required_approvals: Approvals | None = None
    requested_by: str | None = Field(default=None, max_length=320)
    timeout_seconds: Timeout | None = None
    timeout_action: TimeoutAction | None = Field(
        default=None, description="What the timeout does; default: the loop's (expire)."
    )
    callback: CallbackIn | None = None
    previous_request_id: str | None = Field(default=None, max_length=40)

    @field_validator("content")
    @classmethod
    def _content_fits_type(cls, content: JsonValue, info: ValidationInfo) -> JsonValue:
        if content is None:
            raise ValueError("is required and cannot be null")
        kind = info.data.get("content_type")  # absent when content_type itself was wrong
        if kind is not None and kind is not ContentType.json and not isinstance(content, str):
            raise ValueError(f"content of type {kind.value} must be a string")
        return content


class BatchIn(Input):
    items: list[RequestIn] = Field(min_length=1)


class RequestPatch(Input):
    not_null: ClassVar[frozenset[str]] = frozenset({"content", "metadata", "priority"})
    title: str | None = Field(default=None, max_length=500)
    content: JsonValue = None
    context: JsonValue = None
    metadata: dict[str, JsonValue] | None = None
    priority: Priority | None = None
    timeout_seconds: Timeout | None = None


class CancelIn(Input):
    reason: str | None = Field(default=None, max_length=10_000)


class CallbackOut(BaseModel):
    url: str
    events: list[str] | None
    auth: dict[str, str] | None  # only {"strategy": …}: credentials never leave the server


class AssigneeOut(BaseModel):
    user_id: str
    delegate_id: str | None = Field(description="Who acts for the assignee while they are away.")
    assigned_at: datetime


class ClaimOut(BaseModel):
    claimed_by: str = Field(description="The user (or key) deciding the request now.")
    claimed_at: datetime
    until: datetime


class AssignIn(Input):
    user_id: str = Field(max_length=40)
    replaces: str | None = Field(
        default=None,
        max_length=40,
        description="The assignee to replace; left out, every current assignee is replaced.",
    )


class RequestOut(BaseModel):
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
    response: dict[str, Any]
    priority: Priority
    required_approvals: int
    requested_by: str | None
    timeout_seconds: int | None
    timeout_action: TimeoutAction
    deadline_at: datetime | None
    callback: CallbackOut | None
    previous_request_id: str | None
    feedback: str | None
    final_content: Any
    edited: bool
    response_data: Any
    decided_by: list[dict[str, Any]] | None
    review_url: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    picked_up_at: datetime | None
    pickup_deadline_at: datetime | None
    escalation_level: int
    added_reviewers: list[str]
    stage: str | None = Field(description="The current stage's name, on a loop with stages.")
    stages: list[RequestStageOut] | None = Field(
        description="The loop's stages as copied when the request was made, with progress."
    )
    assignees: list[AssigneeOut] = Field(default_factory=list)
    claim: ClaimOut | None = None


class StatusOut(BaseModel):
    id: str
    status: Status
    decision: Decision | None


class ResponseOut(BaseModel):
    request_id: str
    status: Status
    decision: Decision | None
    feedback: str | None
    content: Any
    edited: bool
    response_data: Any
    decided_by: list[dict[str, Any]] | None
    completed_at: datetime | None


class DecisionIn(Input):
    decision: Choice
    feedback: str | None = Field(default=None, max_length=20_000)
    edited_content: JsonValue = None
    response_data: JsonValue = None
    content_hash: str | None = Field(
        default=None,
        description="The content_hash you reviewed ('sha256:' and 64 lowercase hex digits);"
        " refused with a 409 if the content changed since.",
    )


class VoteOut(BaseModel):
    vote_id: str
    request_id: str
    choice: Choice
    approvals: int
    required_approvals: int
    status: Status
    decision: Decision | None
    stage: str | None = Field(description="The stage the vote counted in, on a loop with stages.")


# Events


class EventOut(BaseModel):
    id: str
    seq: int | None
    type: str
    occurred_at: datetime
    actor: dict[str, Any]
    request_id: str | None
    loop_id: str | None
    data: dict[str, Any]
    prev_hash: str | None
    hash: str | None


# People and keys


class UserIn(Input):
    email: str = Field(max_length=320)
    name: Name
    role: UserRole = UserRole.reviewer
    password: str | None = Field(default=None, min_length=8, max_length=1024)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value.strip()):
            raise ValueError("not an email address")
        return value.strip().lower()


class NotifyIn(Input):
    """How a person hears of requests for them: by email (the default), in a chat through an
    incoming-webhook URL (Slack-compatible), or not at all."""

    channel: Literal["email", "chat", "none"]
    url: AnyHttpUrl | None = Field(default=None, description="The chat incoming-webhook URL.")


class UserPatch(Input):
    not_null: ClassVar[frozenset[str]] = frozenset({"name", "role", "active"})
    name: Name | None = None
    role: UserRole | None = None
    active: Flag | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    notify: NotifyIn | None = None


class AwayIn(Input):
    away_from: datetime | None = Field(default=None, description="RFC 3339; default: now.")
    away_until: datetime | None = Field(default=None, description="RFC 3339; null: until cleared.")
    delegate_id: str | None = Field(
        default=None, max_length=40, description="Who acts for them meanwhile; null: nobody."
    )

    @field_validator("away_from", "away_until")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-01-01T00:00:00Z")
        return value


class AwayOut(BaseModel):
    away_from: datetime
    away_until: datetime | None
    delegate_id: str | None


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: UserRole
    active: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime
    notify: dict[str, Any]
    away: AwayOut | None = None


class CreatedUserOut(UserOut):
    invite_url: str | None = Field(
        default=None,
        description="Made when no password was given: the link that lets the person choose one "
        "(single use, expires in 7 days). Send it to them; it is not shown again.",
    )


class InviteOut(BaseModel):
    url: str = Field(description="The invite link: single use; earlier invites stop working.")
    expires_at: datetime


class ApiKeyIn(Input):
    name: Name
    role: Role
    user_id: str | None = None


class ApiKeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    role: Role
    user_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class CreatedApiKeyOut(ApiKeyOut):
    key: str = Field(description="The secret key. Shown once; store it now.")


# Webhooks


class WebhookIn(Input):
    url: AnyHttpUrl
    events: list[EventPattern] | None = Field(
        default=None, description="Event types, or patterns such as `request.*`; null: all."
    )
    loop_id: str | None = None
    description: str = Field(default="", max_length=10_000)
    enabled: Flag = True


class WebhookPatch(Input):
    not_null: ClassVar[frozenset[str]] = frozenset({"url", "description", "enabled"})
    url: AnyHttpUrl | None = None
    events: list[EventPattern] | None = None
    loop_id: str | None = None
    description: str | None = Field(default=None, max_length=10_000)
    enabled: Flag | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    events: list[str] | None
    loop_id: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_valid_until: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecretOut(WebhookOut):
    secret: str = Field(description="The signing secret (whsec_…). Shown only now; store it.")


class RotateIn(Input):
    grace_seconds: Annotated[int, Strict()] = Field(
        default=24 * 3600,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the old secret keeps signing beside the new one.",
    )


class RecoverIn(Input):
    since: datetime = Field(description="Redeliver every message that failed and was made since.")


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    response_excerpt: str | None
    error: str | None


class MessageOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class MessageDetailOut(MessageOut):
    payload: dict[str, Any]
    attempt_log: list[AttemptOut]


class RecoverOut(BaseModel):
    requeued: int


class SecretOut(BaseModel):
    secret: str


# Review links


class ReviewLinkIn(Input):
    """For a user (`user_id`), or for someone without an account (`email`, and a `name`)."""

    user_id: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    expires_in: Annotated[int, Strict(), Field(ge=1, le=30 * 24 * 3600)] = Field(
        default=7 * 24 * 3600, description="Seconds until the link expires (at most 30 days)."
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value.strip()):
            raise ValueError("not an email address")
        return value.strip().lower() if value is not None else None


class ReviewLinkOut(BaseModel):
    id: str
    request_id: str
    user_id: str | None
    email: str
    name: str
    state: Literal["valid", "expired", "spent", "revoked"]
    content_hash: str = Field(description="The content the link was made for.")
    expires_at: datetime
    created_at: datetime
    spent_at: datetime | None
    vote_id: str | None
    revoked_at: datetime | None


class CreatedReviewLinkOut(ReviewLinkOut):
    url: str = Field(description="The link itself. Shown once; send it to the reviewer.")
