"""What the API answers, as typed objects. Keys the SDK does not know yet are ignored, so a
newer server does not break an older SDK."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, get_type_hints

T = TypeVar("T")
M = TypeVar("M", bound="_Model")

Status = Literal["pending", "completed", "timed_out", "cancelled"]
DecisionName = Literal["approved", "rejected", "needs_changes"]
Choice = Literal["approve", "reject", "needs_changes"]
Role = Literal["admin", "requester", "reviewer"]


_TIME_FIELDS: dict[type, frozenset[str]] = {}


def _time_fields(cls: type) -> frozenset[str]:
    """The fields that hold times: read from the type hints once per class."""
    found = _TIME_FIELDS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        found = frozenset(name for name, hint in hints.items() if "datetime" in str(hint))
        _TIME_FIELDS[cls] = found
    return found


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class _Model:
    @classmethod
    def from_json(cls: type[M], data: Mapping[str, Any]) -> M:
        times = _time_fields(cls)
        values = {
            f.name: _time(data.get(f.name)) if f.name in times else data.get(f.name)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.name in data or f.default is dataclasses.MISSING
        }
        return cls(**values)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; iterate it for its items, pass `next_cursor` for the next one."""

    data: list[T]
    next_cursor: str | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], item: Callable[[Any], T]) -> Page[T]:
        return cls([item(d) for d in body["data"]], body.get("next_cursor"))


@dataclass(frozen=True)
class Loop(_Model):
    """A named review queue."""

    id: str
    name: str
    description: str
    reviewers: list[str]
    required_approvals: int
    allow_self_approval: bool
    default_timeout_seconds: int | None
    allow_timeout_approval: bool
    created_at: datetime
    updated_at: datetime
    assignment: str = "open"  # open, round_robin or least_loaded


@dataclass(frozen=True)
class Request(_Model):
    """One thing a person must decide, as `GET /v1/requests/{id}` answers it."""

    id: str
    loop_id: str
    status: Status
    decision: DecisionName | None
    title: str | None
    content: Any
    content_type: str
    content_hash: str
    context: Any
    metadata: dict[str, Any]
    ai_analysis: dict[str, Any] | None
    response: dict[str, Any]
    priority: str
    required_approvals: int
    requested_by: str | None
    timeout_seconds: int | None
    timeout_action: str
    deadline_at: datetime | None
    callback: dict[str, Any] | None
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
    # [{"user_id", "delegate_id", "assigned_at"}]; {"claimed_by", "claimed_at", "until"} or None
    assignees: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    claim: dict[str, Any] | None = None


@dataclass(frozen=True)
class RequestStatus(_Model):
    id: str
    status: Status
    decision: DecisionName | None


@dataclass(frozen=True)
class Decision(_Model):
    """The outcome of a request (`GET /v1/requests/{id}/response`); `decision` is None while
    the request is pending, and when it timed out or was cancelled. `content` is the final
    content: the reviewer's edit when `edited`, else what was asked."""

    request_id: str
    status: Status
    decision: DecisionName | None
    feedback: str | None
    content: Any
    edited: bool
    response_data: Any
    decided_by: list[dict[str, Any]] | None
    completed_at: datetime | None

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    @property
    def approved(self) -> bool:
        return self.decision == "approved"


@dataclass(frozen=True)
class Vote(_Model):
    """What one reviewer's vote did: the request's state after it."""

    vote_id: str
    request_id: str
    choice: Choice
    approvals: int
    required_approvals: int
    status: Status
    decision: DecisionName | None


@dataclass(frozen=True)
class Event(_Model):
    """One numbered entry of the event log; `seq` orders them and resumes a stream."""

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


@dataclass(frozen=True)
class Webhook(_Model):
    """An endpoint; `secret` (whsec_…) is set only in the answers to create and rotate."""

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
    secret: str | None = None


@dataclass(frozen=True)
class Attempt(_Model):
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    response_excerpt: str | None
    error: str | None


@dataclass(frozen=True)
class Delivery(_Model):
    """One event on its way to one endpoint; `payload` and `attempt_log` only from
    `get_delivery`."""

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
    payload: dict[str, Any] | None = None
    attempt_log: list[Attempt] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivery:
        found = super().from_json(data)
        log = data.get("attempt_log")
        if log is None:
            return found
        return dataclasses.replace(found, attempt_log=[Attempt.from_json(a) for a in log])


@dataclass(frozen=True)
class User(_Model):
    id: str
    email: str
    name: str
    role: str
    active: bool
    has_password: bool
    created_at: datetime
    updated_at: datetime
    # Set only in the answer to create, for a user made without a password: the link that
    # lets them choose one.
    invite_url: str | None = None
    away: dict[str, Any] | None = None  # {"away_from", "away_until", "delegate_id"}


@dataclass(frozen=True)
class ApiKey(_Model):
    """A key; the secret `key` (sk_…) is set only in the answer to create."""

    id: str
    prefix: str
    name: str
    role: Role
    user_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    key: str | None = None
