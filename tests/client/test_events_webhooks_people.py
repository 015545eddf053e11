"""The rest of the API through the SDK: the event log and its live stream, webhooks and their
deliveries, users and keys."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from signoff.client import (
    AsyncClient,
    Client,
    Event,
    Loop,
    NotFound,
    Unauthenticated,
)
from signoff.client._base import SSEDecoder
from signoff.webhooks import verify

from .conftest import FAST, Live
from .support import WAIT, Receiver, TcpRelay, until

WATCHED = ["request.created", "request.completed"]


def test_event_pages(admin: Client, reviewer: Client, loop: Loop) -> None:
    request = admin.create_request(loop.id, "an event or two")
    reviewer.decide(request.id, "approve")
    page = admin.list_events(request_id=request.id, limit=1)
    assert len(page) == 1 and page.next_cursor
    everything = list(admin.iter_events(request_id=request.id))
    assert [e.type for e in everything] == ["request.created", "request.vote", "request.completed"]
    seqs = [e.seq for e in everything]
    assert None not in seqs and seqs == sorted(seqs)
    later = admin.list_events(request_id=request.id, after=everything[0].seq or 0)
    assert [e.id for e in later] == [e.id for e in everything[1:]]
    only = list(admin.iter_events(loop_id=loop.id, types=["request.completed"]))
    assert [e.request_id for e in only] == [request.id]


def _collect(stream: Iterator[Event], into: list[Event], count: int) -> threading.Thread:
    def run() -> None:
        for event in stream:
            into.append(event)
            if len(into) == count:
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_stream_resumes_after_a_cut(
    live: Live, admin: Client, reviewer: Client, loop: Loop
) -> None:
    relay = TcpRelay(live.port)
    try:
        with Client(relay.url, live.admin_key, **FAST) as streaming:  # type: ignore[arg-type]
            seen: list[Event] = []
            first = admin.create_request(loop.id, "one")
            stream = streaming.stream_events(loop_id=loop.id, types=WATCHED)
            thread = _collect(stream, seen, 3)
            until(lambda: len(seen) == 1, "the first event")
            relay.cut()  # the connection breaks; the stream opens it again after event 1
            reviewer.decide(first.id, "approve")
            admin.create_request(loop.id, "two")
            thread.join(WAIT)
        assert [e.type for e in seen] == ["request.created", "request.completed", "request.created"]
        assert len({e.seq for e in seen}) == 3
        assert relay.accepted >= 2
    finally:
        relay.close()


def test_stream_starts_after_a_given_event(admin: Client, loop: Loop) -> None:
    made = [admin.create_request(loop.id, f"n{i}") for i in range(3)]
    events = list(admin.iter_events(loop_id=loop.id, types=["request.created"]))
    assert [e.request_id for e in events] == [r.id for r in made]
    seen: list[Event] = []
    after = events[0].seq or 0
    stream = admin.stream_events(loop_id=loop.id, types=["request.created"], after=after)
    thread = _collect(stream, seen, 2)
    thread.join(WAIT)
    assert [e.request_id for e in seen] == [made[1].id, made[2].id]


async def test_async_stream(aadmin: AsyncClient, areviewer: AsyncClient, loop: Loop) -> None:
    request = await aadmin.create_request(loop.id, "streamed")

    async def first_two() -> list[Event]:
        found: list[Event] = []
        async for event in aadmin.stream_events(request_id=request.id, types=WATCHED):
            found.append(event)
            if len(found) == 2:
                return found
        raise AssertionError("the stream ended")

    reading = asyncio.create_task(first_two())
    await asyncio.sleep(0.1)
    await areviewer.decide(request.id, "reject", feedback="no")
    seen = await asyncio.wait_for(reading, WAIT)
    assert [e.type for e in seen] == ["request.created", "request.completed"]
    assert seen[1].data["decision"] == "rejected"


def test_sse_decoder() -> None:
    decoder = SSEDecoder()
    lines = ["retry: 2000", "", ": keep-alive", "id: 7", "event: request.created"]
    assert [decoder.feed(line) for line in lines] == [None] * 5
    assert decoder.last_id is None  # not dispatched yet: a cut now resumes before event 7
    assert decoder.feed("data: {") is None and decoder.feed("data: }") is None
    sse = decoder.feed("")
    assert sse is not None
    assert (sse.id, sse.event, sse.data) == ("7", "request.created", "{\n}")
    assert decoder.last_id == "7" and decoder.reconnect_delay == 2.0
    decoder.feed("id: 8")
    decoder.feed("data: half")
    again = decoder.reconnected()  # the connection broke in the middle of event 8
    assert again.last_id == "7" and again.feed("") is None


# Webhooks


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def test_webhooks(admin: Client, receiver: Receiver) -> None:
    hook = admin.create_webhook(receiver.url, events=["webhook.test"], description="sdk")
    assert hook.secret and hook.secret.startswith("whsec_")
    assert admin.get_webhook(hook.id).secret is None
    assert hook.id in {w.id for w in admin.iter_webhooks()}
    assert admin.list_webhooks(limit=1).data

    admin.test_webhook(hook.id)
    until(lambda: receiver.received, "the test delivery")
    headers, body = receiver.received[0]
    assert verify(hook.secret, headers, body)["type"] == "webhook.test"

    [delivery] = until(lambda: admin.list_deliveries(hook.id, status="delivered").data, "log")
    assert delivery.event_type == "webhook.test" and delivery.attempts == 1
    detail = admin.get_delivery(hook.id, delivery.id)
    assert detail.payload and detail.payload["type"] == "webhook.test"
    assert detail.attempt_log and detail.attempt_log[0].status_code == 200
    assert [d.id for d in admin.iter_deliveries(hook.id)] == [delivery.id]
    again = admin.retry_delivery(hook.id, delivery.id)
    assert again.id == delivery.id
    until(lambda: len(receiver.received) == 2, "the redelivery")
    assert admin.recover_deliveries(hook.id, datetime.now(UTC) - timedelta(hours=1)) == 0

    rotated = admin.rotate_webhook_secret(hook.id, grace_seconds=60)
    assert rotated.secret and rotated.secret != hook.secret
    assert rotated.previous_secret_valid_until is not None
    changed = admin.update_webhook(hook.id, enabled=False, description="off")
    assert not changed.enabled and changed.description == "off"
    assert admin.callback_secret().startswith("whsec_")
    admin.delete_webhook(hook.id)
    with pytest.raises(NotFound):
        admin.get_webhook(hook.id)


# People and keys


def test_users_and_keys(live: Live, admin: Client) -> None:
    bea = admin.create_user("bea@example.com", "Bea", role="reviewer")
    assert (bea.email, bea.role, bea.active, bea.has_password) == (
        "bea@example.com",
        "reviewer",
        True,
        False,
    )
    assert bea.invite_url and "/invite/" in bea.invite_url  # made without a password
    assert admin.get_user(bea.id) == dataclasses.replace(bea, invite_url=None)
    assert bea.id in {u.id for u in admin.iter_users()}
    assert admin.update_user(bea.id, name="Beatrice").name == "Beatrice"

    key = admin.create_api_key("bea's key", "reviewer", user_id=bea.id)
    assert key.key and key.key.startswith("sk_") and key.user_id == bea.id
    assert key.id in {k.id for k in admin.iter_api_keys()}
    assert all(k.key is None for k in admin.list_api_keys().data)
    with Client(live.url, key.key, **FAST) as as_bea:  # type: ignore[arg-type]
        assert as_bea.list_loops() is not None
        revoked = admin.revoke_api_key(key.id)
        assert revoked.revoked_at is not None
        with pytest.raises(Unauthenticated):
            as_bea.list_loops()
