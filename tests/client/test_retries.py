"""Retries: a proxy in front of the real server fails on purpose; the SDK retries with the
same Idempotency-Key, so the server still creates exactly one request."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from signoff.client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    Loop,
    NotFound,
    RateLimited,
    ServerError,
)
from signoff.client._base import is_retryable, retry_after_seconds

from .conftest import FAST, Live
from .support import FaultyProxy, free_port


@pytest.fixture
def proxy(live: Live) -> Iterator[FaultyProxy]:
    with FaultyProxy(live.url).running() as running:
        yield running


def _through(proxy: FaultyProxy, live: Live, **settings: float) -> Client:
    return Client(proxy.url, live.admin_key, **{**FAST, **settings})  # type: ignore[arg-type]


@pytest.mark.parametrize("fault", ["503", "429", "drop", "502"])
def test_a_failed_create_is_retried_without_a_second_request(
    proxy: FaultyProxy, live: Live, admin: Client, loop: Loop, fault: str
) -> None:
    proxy.faults["POST"] = [fault]
    with _through(proxy, live) as client:
        request = client.create_request(loop.id, f"after a {fault}")
    posts = proxy.posts()
    assert [p.fault for p in posts] == [fault, None]
    assert posts[0].idempotency_key and posts[0].idempotency_key == posts[1].idempotency_key
    assert [r.id for r in admin.list_requests(loop_id=loop.id)] == [request.id]


def test_the_caller_key_is_the_one_sent(proxy: FaultyProxy, live: Live, loop: Loop) -> None:
    proxy.faults["POST"] = ["drop", "drop"]
    with _through(proxy, live) as client:
        client.create_request(loop.id, "mine", idempotency_key="caller-chosen-1")
    assert [p.idempotency_key for p in proxy.posts()] == ["caller-chosen-1"] * 3


def test_each_call_has_its_own_key(proxy: FaultyProxy, live: Live, loop: Loop) -> None:
    with _through(proxy, live) as client:
        client.create_request(loop.id, "same body")
        client.create_request(loop.id, "same body")
        assert len(client.list_requests(loop_id=loop.id).data) == 2
    keys = [p.idempotency_key for p in proxy.posts()]
    assert len(set(keys)) == 2


def test_a_delete_whose_answer_was_lost(proxy: FaultyProxy, live: Live, admin: Client) -> None:
    made = admin.create_loop("sdk-deleted-once")
    proxy.faults["DELETE"] = ["drop"]
    with _through(proxy, live) as client:
        client.delete_loop(made.id)  # the retry's 404 means the first try did it
    assert [s.fault for s in proxy.seen if s.method == "DELETE"] == ["drop", None]
    with pytest.raises(NotFound):
        admin.get_loop(made.id)
    with _through(proxy, live) as client, pytest.raises(NotFound):
        client.delete_loop(made.id)  # not retried: a 404 it is


def test_retry_after_is_honoured(proxy: FaultyProxy, live: Live, loop: Loop) -> None:
    proxy.faults["POST"] = ["503"]
    proxy.retry_after = "1"
    with _through(proxy, live) as client:
        started = time.monotonic()
        client.create_request(loop.id, "later")
        elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 5, elapsed  # the backoff alone would be 0.01-0.02 s


def test_out_of_retries(proxy: FaultyProxy, live: Live, loop: Loop) -> None:
    proxy.faults["POST"] = ["503"] * 3
    with _through(proxy, live, retries=2) as client:
        with pytest.raises(ServerError) as caught:
            client.create_request(loop.id, "never")
    assert caught.value.status == 503
    proxy.faults["POST"] = ["429"] * 3
    with _through(proxy, live, retries=2) as client:
        with pytest.raises(RateLimited):
            client.create_request(loop.id, "never")


def test_unreachable(live: Live) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with Client(nobody, live.admin_key, retries=2, backoff=0.01) as client:
        started = time.monotonic()
        with pytest.raises(ConnectionFailed, match="after 3 tries"):
            client.list_loops()
    assert time.monotonic() - started < 5


async def test_async_retries(proxy: FaultyProxy, live: Live, admin: Client, loop: Loop) -> None:
    proxy.faults["POST"] = ["drop", "503"]
    async with AsyncClient(proxy.url, live.admin_key, **FAST) as client:  # type: ignore[arg-type]
        request = await client.create_request(loop.id, "async, twice failed")
    assert len({p.idempotency_key for p in proxy.posts()}) == 1
    assert len(proxy.posts()) == 3
    assert [r.id for r in admin.list_requests(loop_id=loop.id)] == [request.id]


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_which_answers_are_retried() -> None:
    def answer(status: int, slug: str) -> httpx.Response:
        body = {"type": f"urn:signoff:problem:{slug}", "status": status, "detail": "d"}
        return httpx.Response(status, json=body, request=httpx.Request("POST", "http://x/v1"))

    assert is_retryable(answer(409, "idempotency-key-in-use"))  # the first try still runs
    assert not is_retryable(answer(409, "conflict"))
    assert not is_retryable(answer(409, "invalid-transition"))
    assert is_retryable(answer(503, "unavailable")) and is_retryable(answer(429, "rate-limited"))
    assert not is_retryable(answer(422, "validation-failed"))
