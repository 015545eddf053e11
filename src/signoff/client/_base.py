"""What the sync and async clients share: every call built here, every answer read here.

`Calls` turns a method call into an `httpx.Request` plus the function that reads its answer;
`BaseClient` holds the settings, decides whether and when to retry, and turns problem+json
answers into exceptions. `Client` and `AsyncClient` only send, so the two cannot drift.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ..errors import (
    PROBLEM_TYPE_PREFIX,
    Conflict,
    FieldError,
    Forbidden,
    IdempotencyKeyInUse,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    SignoffError,
    Unauthenticated,
    ValidationFailed,
)
from ._errors import ConnectionFailed
from ._models import (
    ApiKey,
    Decision,
    Delivery,
    Event,
    Loop,
    Page,
    Request,
    RequestStatus,
    User,
    Vote,
    Webhook,
)

T = TypeVar("T")
log = logging.getLogger("signoff.client")

DEFAULT_URL = "http://127.0.0.1:8000"
MAX_WAIT_PER_CALL = 60.0  # one long-poll holds at most this long; `wait` loops over them
STREAM_READ_TIMEOUT = 60.0  # the server sends a keep-alive comment every 15 s
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_ERRORS: dict[str, type[SignoffError]] = {
    cls.slug: cls
    for cls in (
        NotFound,
        Unauthenticated,
        Forbidden,
        Conflict,
        InvalidTransition,
        IdempotencyKeyInUse,
        ValidationFailed,
        PayloadTooLarge,
        RateLimited,
        ServerError,
    )
}
_BY_STATUS: dict[int, type[SignoffError]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: RateLimited,
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: the HTTP request (sent as often as retries need, always the same bytes,
    so a POST keeps its Idempotency-Key) and how to read a 2xx answer."""

    request: httpx.Request
    read: Callable[[Any], T]


@dataclass(frozen=True)
class RetryPolicy:
    """Connection errors, 5xx and 429 are retried `retries` times, waiting `backoff` seconds
    doubled each time (with jitter, at most `max_backoff`), or what `Retry-After` asks."""

    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_backoff, self.backoff * 2.0**retry)
        return ceiling * random.uniform(0.5, 1.0)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds: either form of RFC 9110 (a number, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def error_from(response: httpx.Response) -> SignoffError:
    """The exception for an answer that is not 2xx, built from its problem+json body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    problem: dict[str, Any] = body if isinstance(body, dict) else {}
    kind = problem.get("type")
    slug = kind.removeprefix(PROBLEM_TYPE_PREFIX) if isinstance(kind, str) else None
    status = response.status_code
    cls = _ERRORS.get(slug or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else SignoffError
    detail = problem.get("detail") or problem.get("title")
    if not isinstance(detail, str):
        excerpt = response.text[:200].strip()
        detail = f"HTTP {status} from {response.request.method} {response.request.url.path}" + (
            f": {excerpt}" if excerpt else ""
        )
    error = cls(detail)
    if slug and slug not in _ERRORS:
        error.slug = slug  # a problem type this SDK does not know yet: keep its name
    error.status = status
    error.problem = problem
    error.errors = [
        FieldError(str(e.get("field", "")), str(e.get("message", "")))
        for e in problem.get("errors") or []
        if isinstance(e, dict)
    ]
    return error


def is_retryable(response: httpx.Response) -> bool:
    if response.status_code in RETRY_STATUSES:
        return True
    # The first call with this key is still running (it may yet succeed): ask again shortly.
    return response.status_code == 409 and isinstance(error_from(response), IdempotencyKeyInUse)


def wait_seconds(deadline: float | None, now: float, longest: float = MAX_WAIT_PER_CALL) -> float:
    """How long the next long-poll of `wait` may hold: at most `longest`, never past the
    deadline."""
    if deadline is None:
        return longest
    return round(max(0.0, min(longest, deadline - now)), 3)


# Server-sent events


@dataclass
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None


@dataclass
class SSEDecoder:
    """Lines in, events out, as the HTML living standard reads an event stream."""

    last_id: str | None = None  # the id of the last event dispatched: where to resume
    retry_ms: int | None = None
    _data: list[str] = field(default_factory=list)
    _event: str | None = None
    _id: str | None = None

    def reconnected(self) -> SSEDecoder:
        """A decoder for the next connection: a half-received event is dropped, and comes
        again, since the stream resumes after the last event dispatched."""
        return SSEDecoder(self.last_id, self.retry_ms, _id=self.last_id)

    @property
    def reconnect_delay(self) -> float:
        return (self.retry_ms if self.retry_ms is not None else 1000) / 1000

    def feed(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], None
        self.last_id = self._id
        if not data:
            return None
        return ServerSentEvent("\n".join(data), event or "message", self.last_id)


def event_of(sse: ServerSentEvent) -> Event:
    return Event.from_json(json.loads(sse.data))


# Building calls


def given(**values: Any) -> dict[str, Any]:
    """The arguments that were given: None means "leave it to the server"."""
    return {k: v for k, v in values.items() if v is not None}


def _query(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _nothing(_: Any) -> None:
    return None


def event_filters(
    after: int, types: Sequence[str] | None, loop_id: str | None, request_id: str | None
) -> dict[str, Any]:
    return given(
        after=after,
        type=list(types) if types else None,
        loop_id=loop_id,
        request_id=request_id,
    )


def looks_like_loop_id(loop: str) -> bool:
    return loop.startswith("loop_")


def loop_not_found(loop: str) -> NotFound:
    return NotFound(f"no loop has the id or name {loop!r} (or you may not see it)")


class Calls:
    """Every call of the API, built but not sent."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self.url = url
        self.headers = dict(headers)

    def build(
        self,
        method: str,
        path: str,
        read: Callable[[Any], T],
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> Call[T]:
        all_headers = {**self.headers, **(headers or {})}
        if method == "POST":
            # One key per logical call, built once: every retry of this call sends the same one.
            all_headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        query = {k: _query(v) for k, v in (params or {}).items() if v is not None}
        content = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            all_headers["Content-Type"] = "application/json"
        extensions = {}
        if read_timeout is not None:
            timeout = httpx.Timeout(10.0, read=read_timeout)
            extensions["timeout"] = timeout.as_dict()
        request = httpx.Request(
            method,
            self.url + path,
            params=query,
            headers=all_headers,
            content=content,
            extensions=extensions,
        )
        return Call(request, read)

    # Loops

    def create_loop(self, name: str, fields: dict[str, Any], key: str | None) -> Call[Loop]:
        body = {"name": name, **fields}
        return self.build("POST", "/v1/loops", Loop.from_json, body=body, idempotency_key=key)

    def list_loops(self, limit: int | None, cursor: str | None) -> Call[Page[Loop]]:
        params = {"limit": limit, "cursor": cursor}
        return self.build("GET", "/v1/loops", _page(Loop.from_json), params=params)

    def get_loop(self, loop_id: str) -> Call[Loop]:
        return self.build("GET", f"/v1/loops/{_seg(loop_id)}", Loop.from_json)

    def update_loop(self, loop_id: str, changes: dict[str, Any]) -> Call[Loop]:
        return self.build("PATCH", f"/v1/loops/{_seg(loop_id)}", Loop.from_json, body=changes)

    def delete_loop(self, loop_id: str) -> Call[None]:
        return self.build("DELETE", f"/v1/loops/{_seg(loop_id)}", _nothing)

    # Requests

    def create_request(
        self, loop_id: str, content: Any, fields: dict[str, Any], key: str | None
    ) -> Call[Request]:
        path = f"/v1/loops/{_seg(loop_id)}/requests"
        body = request_body(content, fields)
        return self.build("POST", path, Request.from_json, body=body, idempotency_key=key)

    def create_requests(
        self, loop_id: str, items: Sequence[Mapping[str, Any]], key: str | None
    ) -> Call[list[Request]]:
        path = f"/v1/loops/{_seg(loop_id)}/requests/batch"
        body = {"items": [request_body(item.get("content"), dict(item)) for item in items]}

        def read(answer: Any) -> list[Request]:
            return [Request.from_json(r) for r in answer["data"]]

        return self.build("POST", path, read, body=body, idempotency_key=key)

    def list_requests(self, filters: dict[str, Any]) -> Call[Page[Request]]:
        return self.build("GET", "/v1/requests", _page(Request.from_json), params=filters)

    def get_request(self, request_id: str) -> Call[Request]:
        return self.build("GET", f"/v1/requests/{_seg(request_id)}", Request.from_json)

    def update_request(self, request_id: str, changes: dict[str, Any]) -> Call[Request]:
        path = f"/v1/requests/{_seg(request_id)}"
        return self.build("PATCH", path, Request.from_json, body=changes)

    def cancel_request(self, request_id: str, reason: str | None, key: str | None) -> Call[Request]:
        path = f"/v1/requests/{_seg(request_id)}/cancel"
        body = given(reason=reason)
        return self.build("POST", path, Request.from_json, body=body, idempotency_key=key)

    def get_status(self, request_id: str) -> Call[RequestStatus]:
        path = f"/v1/requests/{_seg(request_id)}/status"
        return self.build("GET", path, RequestStatus.from_json)

    def get_response(
        self, request_id: str, wait: float | None, read_timeout: float
    ) -> Call[Decision]:
        path = f"/v1/requests/{_seg(request_id)}/response"
        hold = read_timeout + wait if wait else None
        return self.build(
            "GET", path, Decision.from_json, params={"wait": wait or None}, read_timeout=hold
        )

    def decide(
        self, request_id: str, decision: str, fields: dict[str, Any], key: str | None
    ) -> Call[Vote]:
        path = f"/v1/requests/{_seg(request_id)}/decisions"
        body = {"decision": decision, **fields}
        return self.build("POST", path, Vote.from_json, body=body, idempotency_key=key)

    def request_events(self, request_id: str) -> Call[list[Event]]:
        def read(answer: Any) -> list[Event]:
            return [Event.from_json(e) for e in answer["data"]]

        return self.build("GET", f"/v1/requests/{_seg(request_id)}/events", read)

    # Events

    def list_events(self, filters: dict[str, Any]) -> Call[Page[Event]]:
        return self.build("GET", "/v1/events", _page(Event.from_json), params=filters)

    def stream_events(self, filters: dict[str, Any], last_event_id: str | None) -> Call[None]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        return self.build(
            "GET",
            "/v1/events",
            _nothing,
            params=filters,
            headers=headers,
            read_timeout=STREAM_READ_TIMEOUT,
        )

    # Webhooks

    def create_webhook(self, url: str, fields: dict[str, Any], key: str | None) -> Call[Webhook]:
        body = {"url": url, **fields}
        return self.build("POST", "/v1/webhooks", Webhook.from_json, body=body, idempotency_key=key)

    def list_webhooks(self, limit: int | None, cursor: str | None) -> Call[Page[Webhook]]:
        params = {"limit": limit, "cursor": cursor}
        return self.build("GET", "/v1/webhooks", _page(Webhook.from_json), params=params)

    def get_webhook(self, webhook_id: str) -> Call[Webhook]:
        return self.build("GET", f"/v1/webhooks/{_seg(webhook_id)}", Webhook.from_json)

    def update_webhook(self, webhook_id: str, changes: dict[str, Any]) -> Call[Webhook]:
        path = f"/v1/webhooks/{_seg(webhook_id)}"
        return self.build("PATCH", path, Webhook.from_json, body=changes)

    def delete_webhook(self, webhook_id: str) -> Call[None]:
        return self.build("DELETE", f"/v1/webhooks/{_seg(webhook_id)}", _nothing)

    def test_webhook(self, webhook_id: str, key: str | None) -> Call[None]:
        path = f"/v1/webhooks/{_seg(webhook_id)}/test"
        return self.build("POST", path, _nothing, idempotency_key=key)

    def rotate_webhook_secret(
        self, webhook_id: str, grace_seconds: int | None, key: str | None
    ) -> Call[Webhook]:
        path = f"/v1/webhooks/{_seg(webhook_id)}/rotate-secret"
        body = given(grace_seconds=grace_seconds)
        return self.build("POST", path, Webhook.from_json, body=body, idempotency_key=key)

    def list_deliveries(self, webhook_id: str, filters: dict[str, Any]) -> Call[Page[Delivery]]:
        path = f"/v1/webhooks/{_seg(webhook_id)}/deliveries"
        return self.build("GET", path, _page(Delivery.from_json), params=filters)

    def get_delivery(self, webhook_id: str, message_id: str) -> Call[Delivery]:
        path = f"/v1/webhooks/{_seg(webhook_id)}/deliveries/{_seg(message_id)}"
        return self.build("GET", path, Delivery.from_json)

    def retry_delivery(self, webhook_id: str, message_id: str, key: str | None) -> Call[Delivery]:
        path = f"/v1/webhooks/{_seg(webhook_id)}/deliveries/{_seg(message_id)}/retry"
        return self.build("POST", path, Delivery.from_json, idempotency_key=key)

    def recover_deliveries(
        self, webhook_id: str, since: datetime | str, key: str | None
    ) -> Call[int]:
        path = f"/v1/webhooks/{_seg(webhook_id)}/recover"
        body = {"since": _query(since)}

        def read(answer: Any) -> int:
            return int(answer["requeued"])

        return self.build("POST", path, read, body=body, idempotency_key=key)

    def callback_secret(self) -> Call[str]:
        def read(answer: Any) -> str:
            return str(answer["secret"])

        return self.build("GET", "/v1/webhooks/callback-secret", read)

    # People and keys

    def create_user(
        self, email: str, name: str, fields: dict[str, Any], key: str | None
    ) -> Call[User]:
        body = {"email": email, "name": name, **fields}
        return self.build("POST", "/v1/users", User.from_json, body=body, idempotency_key=key)

    def list_users(self, limit: int | None, cursor: str | None) -> Call[Page[User]]:
        params = {"limit": limit, "cursor": cursor}
        return self.build("GET", "/v1/users", _page(User.from_json), params=params)

    def get_user(self, user_id: str) -> Call[User]:
        return self.build("GET", f"/v1/users/{_seg(user_id)}", User.from_json)

    def update_user(self, user_id: str, changes: dict[str, Any]) -> Call[User]:
        return self.build("PATCH", f"/v1/users/{_seg(user_id)}", User.from_json, body=changes)

    def create_api_key(self, name: str, fields: dict[str, Any], key: str | None) -> Call[ApiKey]:
        body = {"name": name, **fields}
        return self.build("POST", "/v1/api-keys", ApiKey.from_json, body=body, idempotency_key=key)

    def list_api_keys(self, limit: int | None, cursor: str | None) -> Call[Page[ApiKey]]:
        params = {"limit": limit, "cursor": cursor}
        return self.build("GET", "/v1/api-keys", _page(ApiKey.from_json), params=params)

    def revoke_api_key(self, key_id: str) -> Call[ApiKey]:
        return self.build("DELETE", f"/v1/api-keys/{_seg(key_id)}", ApiKey.from_json)


def request_body(content: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A request's JSON: fields left as None are the server's to default; content that is not
    a string is sent as `content_type: json` unless a type is named."""
    body = {k: v for k, v in fields.items() if v is not None and k != "content"}
    body["content"] = content
    if "content_type" not in body and not isinstance(content, str):
        body["content_type"] = "json"
    return body


def _page(item: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    def read(answer: Any) -> Page[T]:
        return Page.from_json(answer, item)

    return read


def _seg(value: str) -> str:
    """An id as one path segment: a stray `/` or `?` cannot reach another route."""
    return quote(value, safe="")


# The client settings


class BaseClient:
    """Settings, and what to do with an answer; subclasses add only the sending."""

    def __init__(
        self,
        url: str | None,
        api_key: str | None,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        max_backoff: float,
        headers: Mapping[str, str] | None,
    ) -> None:
        from .. import __version__

        self.url = (url or os.environ.get("SIGNOFF_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("SIGNOFF_API_KEY")
        if not key:
            raise ValueError("no API key: pass api_key=… or set SIGNOFF_API_KEY")
        self.timeout = timeout
        self.longest_wait = MAX_WAIT_PER_CALL
        self.retry = RetryPolicy(retries, backoff, max_backoff)
        self._calls = Calls(
            self.url,
            {
                "Authorization": f"Bearer {key}",
                "Accept": "application/json",
                "User-Agent": f"signoff-python/{__version__}",
                **(headers or {}),
            },
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _retry_after_answer(self, retry: int, response: httpx.Response) -> float | None:
        """Seconds to wait before sending again, or None: the answer is final."""
        if retry >= self.retry.retries or not is_retryable(response):
            return None
        delay = self.retry.delay(retry, retry_after_seconds(response.headers.get("retry-after")))
        log.warning(
            "%s %s answered %s; retrying in %.2f s",
            response.request.method,
            response.request.url.path,
            response.status_code,
            delay,
        )
        return delay

    def _retry_after_error(self, retry: int, call: Call[Any], error: Exception) -> float:
        """Seconds to wait before sending again; raises ConnectionFailed when out of retries."""
        request = call.request
        if retry >= self.retry.retries:
            raise _connection_failed(request, error, retry + 1) from error
        delay = self.retry.delay(retry)
        log.warning(
            "%s %s failed (%s); retrying in %.2f s",
            request.method,
            request.url.path,
            type(error).__name__,
            delay,
        )
        return delay

    def _shorten_wait(self, error: ValidationFailed) -> bool:
        """After a server refused `?wait=` as too long (its limit is a setting): hold each
        long-poll for what it allows from now on. False: the error is about something else."""
        said = next((e.message for e in error.errors if e.field == "query.wait"), None)
        if said is None or self.longest_wait <= 1:
            return False
        allowed = re.search(r"at most (\d+(?:\.\d+)?)", said)
        limit = float(allowed.group(1)) if allowed else 0.0
        self.longest_wait = max(
            1.0, limit if 0 < limit < self.longest_wait else self.longest_wait / 2
        )
        return True

    def _answer(self, call: Call[T], response: httpx.Response, retried: bool) -> T:
        delete = call.request.method == "DELETE" and call.read is _nothing
        if retried and delete and response.status_code == 404:
            # A DELETE whose first try deleted it, its answer lost on the way: done all the same.
            return call.read(None)
        if not response.is_success:
            raise error_from(response)
        return call.read(response.json() if response.content else None)


def _connection_failed(request: httpx.Request, error: Exception, tries: int) -> SignoffError:
    return ConnectionFailed(
        f"{request.method} {request.url.copy_with(query=None)} failed after {tries} "
        f"tr{'ies' if tries != 1 else 'y'}: {type(error).__name__}: {error}"
    )
