"""GET /v1/events as a server-sent-event stream, over real HTTP: live, resumable, filtered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from tests.conftest import Api

from .support import Frame, Stream, decide, make_loop, make_request

Last = Callable[[Frame], bool]


@asynccontextmanager
async def _stream(
    base_url: str, api: Api, who: str, params: dict[str, str] | None = None, last_id: int = 0
) -> AsyncIterator[Stream]:
    headers = {**api.auth(who), "Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = str(last_id)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=10, trust_env=False) as client,
        client.stream("GET", "/v1/events", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        try:
            yield stream
        finally:
            await stream.close()


def _is(type_: str, request_id: str | None = None) -> Last:
    return lambda f: f.type == type_ and (request_id is None or f.data["request_id"] == request_id)


async def test_a_stream_resumes_from_last_event_id_without_gaps_or_repeats(
    api: Api, live_url: str
) -> None:
    ann = await api.add_reviewer("ann")
    async with _stream(live_url, api, "admin") as stream:
        loop_id = await make_loop(api, [ann])
        backlog = await stream.read_until(_is("loop.created"))
        first = await make_request(api, loop_id)
        live = await stream.read_until(_is("request.created", first))
    seen = backlog + live
    assert [f.id for f in seen] == list(range(1, len(seen) + 1))
    assert all(f.data["seq"] == f.id and f.data["type"] == f.type for f in seen)

    # While nobody listens: a decision, a second request, its cancellation.
    await decide(api, "ann", first)
    second = await make_request(api, loop_id)
    r = await api.as_("requester", "POST", f"/v1/requests/{second}/cancel", json={})
    assert r.status_code == 200, r.text

    async with _stream(live_url, api, "admin", last_id=seen[-1].id) as stream:
        missed = await stream.read_until(_is("request.cancelled", second))
        third = await make_request(api, loop_id)
        after = await stream.read_until(_is("request.created", third))
    assert [(f.type, f.data["request_id"]) for f in missed] == [
        ("request.vote", first),
        ("request.completed", first),
        ("request.created", second),
        ("request.cancelled", second),
    ]
    ids = [f.id for f in seen + missed + after]
    assert ids == list(range(1, len(ids) + 1)), "in order, none missed, none twice"
    page = (await api.as_("admin", "GET", f"/v1/events?after={seen[-1].id}")).json()["data"]
    assert [e["id"] for e in page] == [f.data["id"] for f in missed + after]


async def test_stream_filters_and_what_a_requester_may_see(api: Api, live_url: str) -> None:
    ann = await api.add_reviewer("ann")
    north, south = await make_loop(api, [ann], "north"), await make_loop(api, [ann], "south")
    decided = {}
    for loop_id in (north, south):
        decided[loop_id] = await make_request(api, loop_id)
        await decide(api, "ann", decided[loop_id])
    last_north, last_south = decided[north], decided[south]
    # Each stream reads up to an event that comes after every other one it could have shown.
    cases: list[tuple[str, dict[str, str], Last, Callable[[Frame], bool]]] = [
        (
            "admin",
            {"loop_id": north},
            _is("request.completed", last_north),
            lambda f: f.data["loop_id"] == north,
        ),
        (
            "admin",
            {"request_id": last_north},
            _is("request.completed", last_north),
            lambda f: f.data["request_id"] == last_north,
        ),
        (
            "admin",
            {"type": "request.completed"},
            _is("request.completed", last_south),
            lambda f: f.type == "request.completed",
        ),
        (
            "requester",
            {},
            _is("request.completed", last_south),
            lambda f: f.type.startswith("request."),
        ),
    ]
    for who, params, last, allowed in cases:
        async with _stream(live_url, api, who, params) as stream:
            got = await stream.read_until(last)
        assert got and all(allowed(f) for f in got), (who, params, got)
        ids = [f.id for f in got]
        assert ids == sorted(set(ids))
    async with _stream(live_url, api, "requester", {"loop_id": south}) as stream:
        got = await stream.read_until(_is("request.completed", last_south))
    assert [f.type for f in got] == ["request.created", "request.vote", "request.completed"]

    async with _stream(live_url, api, "admin", {"type": "request.completed"}) as stream:
        await stream.read_until(_is("request.completed", last_south))
        late = await make_request(api, south)
        await decide(api, "ann", late, decision="reject", feedback="late")
        [live] = await stream.read_until(_is("request.completed", late))
    assert live.data["data"]["decision"] == "rejected"
    admin_types = {e["type"] for e in (await api.as_("admin", "GET", "/v1/events")).json()["data"]}
    assert {"loop.created", "user.created"} <= admin_types
