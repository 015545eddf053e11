"""`Client`: the API over blocking HTTP. Every call is built in `_base`; this module sends."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from ..errors import NotFound, ValidationFailed
from ._base import (
    BaseClient,
    Call,
    SSEDecoder,
    error_from,
    event_filters,
    event_of,
    given,
    looks_like_loop_id,
    loop_not_found,
    wait_seconds,
)
from ._errors import WaitTimeout
from ._models import (
    ApiKey,
    Choice,
    Decision,
    Delivery,
    Event,
    Loop,
    Page,
    Request,
    RequestStatus,
    Role,
    Status,
    User,
    Vote,
    Webhook,
)

T = TypeVar("T")


class Client(BaseClient):
    """The Signoff API. `url` and `api_key` default to `SIGNOFF_URL` and `SIGNOFF_API_KEY`.

        with Client() as signoff:
            request = signoff.create_request(loop_id, "Refund $120 to Bob", title="Refund")
            decision = signoff.wait(request.id, timeout=3600)
            if decision.approved: ...

    Every POST carries an `Idempotency-Key` (a fresh one per call unless you pass
    `idempotency_key=`), and is retried with that same key on a connection error, 5xx or 429,
    so a retried call never creates a second request.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            api_key,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            headers=headers,
        )
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        retry = 0
        while True:
            try:
                response = self._http.send(call.request)
            except httpx.TransportError as error:
                delay = self._retry_after_error(retry, call, error)
            else:
                found = self._retry_after_answer(retry, response)
                if found is None:
                    return self._answer(call, response, retried=retry > 0)
                delay = found
            retry += 1
            time.sleep(delay)

    def _iterate(self, page: Callable[[str | None], Call[Page[T]]]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            found = self._send(page(cursor))
            yield from found.data
            if not found.next_cursor:
                return
            cursor = found.next_cursor

    # Loops

    def create_loop(
        self,
        name: str,
        *,
        description: str | None = None,
        reviewers: Sequence[str] | None = None,
        required_approvals: int | None = None,
        allow_self_approval: bool | None = None,
        default_timeout_seconds: int | None = None,
        allow_timeout_approval: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Loop:
        fields = given(
            description=description,
            reviewers=list(reviewers) if reviewers is not None else None,
            required_approvals=required_approvals,
            allow_self_approval=allow_self_approval,
            default_timeout_seconds=default_timeout_seconds,
            allow_timeout_approval=allow_timeout_approval,
        )
        return self._send(self._calls.create_loop(name, fields, idempotency_key))

    def list_loops(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Loop]:
        return self._send(self._calls.list_loops(limit, cursor))

    def iter_loops(self) -> Iterator[Loop]:
        return self._iterate(lambda cursor: self._calls.list_loops(None, cursor))

    def get_loop(self, loop_id: str) -> Loop:
        return self._send(self._calls.get_loop(loop_id))

    def find_loop(self, loop: str) -> Loop:
        """The loop with this id or, failing that, this name; NotFound if there is none."""
        if looks_like_loop_id(loop):
            with contextlib.suppress(NotFound):
                return self.get_loop(loop)
        for found in self.iter_loops():
            if found.name == loop:
                return found
        raise loop_not_found(loop)

    def update_loop(self, loop_id: str, **changes: Any) -> Loop:
        return self._send(self._calls.update_loop(loop_id, changes))

    def delete_loop(self, loop_id: str) -> None:
        self._send(self._calls.delete_loop(loop_id))

    # Requests

    def create_request(
        self,
        loop_id: str,
        content: Any,
        *,
        title: str | None = None,
        content_type: str | None = None,
        priority: str | None = None,
        context: Any = None,
        metadata: Mapping[str, Any] | None = None,
        ai_analysis: Mapping[str, Any] | None = None,
        response: Mapping[str, Any] | None = None,
        required_approvals: int | None = None,
        requested_by: str | None = None,
        timeout_seconds: int | None = None,
        timeout_action: str | None = None,
        callback: Mapping[str, Any] | None = None,
        previous_request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Request:
        """Ask for a review. Content that is not a string is sent as `content_type: json`."""
        fields = given(
            title=title,
            content_type=content_type,
            priority=priority,
            context=context,
            metadata=metadata,
            ai_analysis=ai_analysis,
            response=response,
            required_approvals=required_approvals,
            requested_by=requested_by,
            timeout_seconds=timeout_seconds,
            timeout_action=timeout_action,
            callback=callback,
            previous_request_id=previous_request_id,
        )
        return self._send(self._calls.create_request(loop_id, content, fields, idempotency_key))

    def create_requests(
        self,
        loop_id: str,
        items: Sequence[Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
    ) -> list[Request]:
        """Many requests in one call, all or nothing; each item has the fields of
        `create_request` (`content` required)."""
        return self._send(self._calls.create_requests(loop_id, items, idempotency_key))

    def list_requests(
        self,
        *,
        loop_id: str | None = None,
        status: Status | None = None,
        priority: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Request]:
        filters = given(
            loop_id=loop_id,
            status=status,
            priority=priority,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
        return self._send(self._calls.list_requests(filters))

    def iter_requests(
        self,
        *,
        loop_id: str | None = None,
        status: Status | None = None,
        priority: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Iterator[Request]:
        """Every request that matches, page after page."""
        filters = given(
            loop_id=loop_id,
            status=status,
            priority=priority,
            created_after=created_after,
            created_before=created_before,
        )
        return self._iterate(
            lambda cursor: self._calls.list_requests({**filters, **given(cursor=cursor)})
        )

    def get_request(self, request_id: str) -> Request:
        return self._send(self._calls.get_request(request_id))

    def update_request(self, request_id: str, **changes: Any) -> Request:
        """Change a pending request: `title`, `content`, `context`, `metadata`, `priority`,
        `timeout_seconds`. New content voids the votes cast on the old."""
        return self._send(self._calls.update_request(request_id, changes))

    def cancel_request(
        self, request_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> Request:
        return self._send(self._calls.cancel_request(request_id, reason, idempotency_key))

    def get_status(self, request_id: str) -> RequestStatus:
        return self._send(self._calls.get_status(request_id))

    def get_response(self, request_id: str, *, wait: float | None = None) -> Decision:
        """The decision now, or (with `wait`) as soon as it exists within `wait` seconds."""
        return self._send(self._calls.get_response(request_id, wait, self.timeout))

    def wait(self, request_id: str, *, timeout: float | None = None) -> Decision:
        """Block until the request leaves `pending` and answer how it ended; the answer comes
        the moment the decision is committed. Raises WaitTimeout after `timeout` seconds
        (None: wait for as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            seconds = wait_seconds(deadline, time.monotonic(), self.longest_wait)
            try:
                decision = self.get_response(request_id, wait=seconds)
            except ValidationFailed as error:
                if self._shorten_wait(error):
                    continue
                raise
            if not decision.pending:
                return decision
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(request_id, timeout or 0.0)

    def decide(
        self,
        request_id: str,
        decision: Choice,
        *,
        feedback: str | None = None,
        edited_content: Any = None,
        response_data: Any = None,
        content_hash: str | None = None,
        idempotency_key: str | None = None,
    ) -> Vote:
        """Vote as a reviewer: `approve`, `reject` or `needs_changes` (the last two need
        `feedback`)."""
        fields = given(
            feedback=feedback,
            edited_content=edited_content,
            response_data=response_data,
            content_hash=content_hash,
        )
        return self._send(self._calls.decide(request_id, decision, fields, idempotency_key))

    def request_events(self, request_id: str) -> list[Event]:
        return self._send(self._calls.request_events(request_id))

    # Events

    def list_events(
        self,
        *,
        after: int = 0,
        types: Sequence[str] | None = None,
        loop_id: str | None = None,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> Page[Event]:
        """Events with a sequence number above `after`; `next_cursor` is the next `after`."""
        filters = event_filters(after, types, loop_id, request_id)
        return self._send(self._calls.list_events({**filters, **given(limit=limit)}))

    def iter_events(
        self,
        *,
        after: int = 0,
        types: Sequence[str] | None = None,
        loop_id: str | None = None,
        request_id: str | None = None,
    ) -> Iterator[Event]:
        """Every event after `after` there is now; for the ones still to come, `stream_events`."""
        filters = event_filters(after, types, loop_id, request_id)
        return self._iterate(
            lambda cursor: self._calls.list_events({**filters, "after": int(cursor or after)})
        )

    def stream_events(
        self,
        *,
        after: int = 0,
        types: Sequence[str] | None = None,
        loop_id: str | None = None,
        request_id: str | None = None,
    ) -> Iterator[Event]:
        """The events after `after`, then each new one as it happens, for ever (break out of
        the loop to stop). A dropped connection is reopened from the last event received
        (`Last-Event-ID`), so none is missed or repeated."""
        filters = event_filters(after, types, loop_id, request_id)
        decoder = SSEDecoder()
        failures = 0
        while True:
            call = self._calls.stream_events(filters, decoder.last_id)
            decoder = decoder.reconnected()
            try:
                response = self._http.send(call.request, stream=True)
            except httpx.TransportError as error:
                time.sleep(self._retry_after_error(failures, call, error))
                failures += 1
                continue
            try:
                if response.is_success:
                    failures = 0
                    for line in response.iter_lines():
                        sse = decoder.feed(line)
                        if sse is not None:
                            yield event_of(sse)
                    delay = decoder.reconnect_delay
                else:
                    response.read()
                    found = self._retry_after_answer(failures, response)
                    if found is None:
                        raise error_from(response)
                    delay, failures = found, failures + 1
            except httpx.TransportError as error:  # the stream broke: open it again
                delay, failures = self._retry_after_error(failures, call, error), failures + 1
            finally:
                response.close()
            time.sleep(delay)

    # Webhooks

    def create_webhook(
        self,
        url: str,
        *,
        events: Sequence[str] | None = None,
        loop_id: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Webhook:
        """Subscribe an endpoint; the answer's `secret` (whsec_…) is shown only now."""
        fields = given(
            events=list(events) if events is not None else None,
            loop_id=loop_id,
            description=description,
            enabled=enabled,
        )
        return self._send(self._calls.create_webhook(url, fields, idempotency_key))

    def list_webhooks(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Webhook]:
        return self._send(self._calls.list_webhooks(limit, cursor))

    def iter_webhooks(self) -> Iterator[Webhook]:
        return self._iterate(lambda cursor: self._calls.list_webhooks(None, cursor))

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self._send(self._calls.get_webhook(webhook_id))

    def update_webhook(self, webhook_id: str, **changes: Any) -> Webhook:
        return self._send(self._calls.update_webhook(webhook_id, changes))

    def delete_webhook(self, webhook_id: str) -> None:
        self._send(self._calls.delete_webhook(webhook_id))

    def test_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> None:
        """Send a `webhook.test` event to the endpoint."""
        self._send(self._calls.test_webhook(webhook_id, idempotency_key))

    def rotate_webhook_secret(
        self,
        webhook_id: str,
        *,
        grace_seconds: int | None = None,
        idempotency_key: str | None = None,
    ) -> Webhook:
        call = self._calls.rotate_webhook_secret(webhook_id, grace_seconds, idempotency_key)
        return self._send(call)

    def list_deliveries(
        self,
        webhook_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Delivery]:
        filters = given(status=status, limit=limit, cursor=cursor)
        return self._send(self._calls.list_deliveries(webhook_id, filters))

    def iter_deliveries(self, webhook_id: str, *, status: str | None = None) -> Iterator[Delivery]:
        return self._iterate(
            lambda cursor: self._calls.list_deliveries(
                webhook_id, given(status=status, cursor=cursor)
            )
        )

    def get_delivery(self, webhook_id: str, message_id: str) -> Delivery:
        return self._send(self._calls.get_delivery(webhook_id, message_id))

    def retry_delivery(
        self, webhook_id: str, message_id: str, *, idempotency_key: str | None = None
    ) -> Delivery:
        return self._send(self._calls.retry_delivery(webhook_id, message_id, idempotency_key))

    def recover_deliveries(
        self, webhook_id: str, since: datetime | str, *, idempotency_key: str | None = None
    ) -> int:
        """Redeliver every message that failed since `since`; answers how many."""
        return self._send(self._calls.recover_deliveries(webhook_id, since, idempotency_key))

    def callback_secret(self) -> str:
        """The secret that signs deliveries to requests' own `callback` URLs."""
        return self._send(self._calls.callback_secret())

    # People and keys

    def create_user(
        self,
        email: str,
        name: str,
        *,
        role: str | None = None,
        password: str | None = None,
        idempotency_key: str | None = None,
    ) -> User:
        fields = given(role=role, password=password)
        return self._send(self._calls.create_user(email, name, fields, idempotency_key))

    def list_users(self, *, limit: int | None = None, cursor: str | None = None) -> Page[User]:
        return self._send(self._calls.list_users(limit, cursor))

    def iter_users(self) -> Iterator[User]:
        return self._iterate(lambda cursor: self._calls.list_users(None, cursor))

    def get_user(self, user_id: str) -> User:
        return self._send(self._calls.get_user(user_id))

    def update_user(self, user_id: str, **changes: Any) -> User:
        return self._send(self._calls.update_user(user_id, changes))

    def create_api_key(
        self,
        name: str,
        role: Role,
        *,
        user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKey:
        """A new key; its secret (`key`, sk_…) is in this answer only."""
        fields = given(role=role, user_id=user_id)
        return self._send(self._calls.create_api_key(name, fields, idempotency_key))

    def list_api_keys(self, *, limit: int | None = None, cursor: str | None = None) -> Page[ApiKey]:
        return self._send(self._calls.list_api_keys(limit, cursor))

    def iter_api_keys(self) -> Iterator[ApiKey]:
        return self._iterate(lambda cursor: self._calls.list_api_keys(None, cursor))

    def revoke_api_key(self, key_id: str) -> ApiKey:
        return self._send(self._calls.revoke_api_key(key_id))
