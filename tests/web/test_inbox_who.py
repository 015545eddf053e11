"""The inbox holds the pending requests this reviewer may decide (issue 4), as the vote decides
who may (issue 5): assignment, delegation, escalation and stages, on SQLite and PostgreSQL.
Through the web app over httpx: the page, its counts per loop, the review session's next
request, the live updates; and the reviewer's `GET /v1/requests`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from signoff.domain.model import SYSTEM, AssignmentStrategy, Choice, Principal, Role
from signoff.domain.timers import EscalationStep
from signoff.domain.voting import Ballot
from signoff.service import assignments, timeouts
from signoff.service.context import Context
from signoff.service.loops import LoopDraft, create_loop, update_loop
from signoff.service.sessions import session_for
from signoff.service.users import create_key
from signoff.service.votes import vote
from signoff.web import inbox as web_inbox
from tests.web.conftest import Site
from tests.web.support import sign_in

ROW = re.compile(r'<tr data-request="(req_[0-9A-Z]+)"')


class Clock:
    def __init__(self, ctx: Context) -> None:
        self.now = datetime(2026, 11, 22, 9, tzinfo=UTC)
        ctx.clock = self

    def __call__(self) -> datetime:
        return self.now


async def _loop(site: Site, name: str, reviewers: list[str], **fields: Any) -> str:
    draft = LoopDraft(name=name, reviewers=tuple(reviewers), **fields)
    return (await create_loop(site.ctx, SYSTEM, draft)).id


def _as(user_id: str) -> Principal:
    return Principal(Role.reviewer, user_id=user_id)


async def _approve(site: Site, user_id: str, request_id: str) -> None:
    await vote(site.ctx, _as(user_id), request_id, Ballot(Choice.approve))


async def _away(site: Site, user_id: str, delegate_id: str | None) -> None:
    await assignments.set_away(site.ctx, SYSTEM, user_id, assignments.Away(delegate_id=delegate_id))


class Reviewer:
    """A signed-in browser of one reviewer."""

    def __init__(self, site: Site, email: str) -> None:
        self.site = site
        self.email = email
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Reviewer:
        self.client = self.site.client()
        await sign_in(self.client, self.email)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.client is not None
        await self.client.aclose()

    async def page(self, path: str = "/") -> str:
        assert self.client is not None
        r = await self.client.get(path)
        assert r.status_code == 200, r.text[:2000]
        return r.text

    async def inbox(self, path: str = "/") -> list[str]:
        return ROW.findall(await self.page(path))

    async def count(self, loop_id: str) -> int | None:
        found = re.search(rf'data-loop="{loop_id}">(\d+)</span>', await self.page())
        return int(found.group(1)) if found else None

    async def session_next(self) -> str | None:
        assert self.client is not None
        r = await self.client.get("/session", follow_redirects=False)
        if r.status_code == 200:
            return None  # the session is done: nothing waits
        assert r.status_code == 303, r.text[:2000]
        found = re.match(r"/requests/(req_[0-9A-Z]+)", r.headers["location"])
        assert found, r.headers["location"]
        return found.group(1)


async def _listed(site: Site, user_id: str) -> list[str]:
    """What `GET /v1/requests?status=pending` shows the reviewer (with a key of theirs)."""
    key = (await create_key(site.ctx, SYSTEM, f"k-{user_id}", Role.reviewer, user_id)).secret
    async with site.client() as api:
        r = await api.get(
            "/v1/requests",
            params={"status": "pending", "limit": 100},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["data"]]


async def test_round_robin_shows_each_reviewer_only_what_is_theirs(site: Site) -> None:
    bob, cat = await site.person("bob"), await site.person("cat")
    loop = await _loop(site, "rr", [bob, cat], assignment=AssignmentStrategy.round_robin)
    first = str((await site.create(loop, title="first"))["id"])
    second = str((await site.create(loop, title="second"))["id"])
    async with Reviewer(site, "bob@example.com") as b, Reviewer(site, "cat@example.com") as c:
        assert await b.inbox() == [first]
        assert await c.inbox() == [second]
        assert (await b.count(loop), await c.count(loop)) == (1, 1)
        assert await b.inbox(f"/?loop={loop}") == [first]
        assert await b.session_next() == first
        assert await c.session_next() == second


async def test_a_delegate_finds_what_they_decide_for_someone_away(site: Site) -> None:
    ann, bob, dan = [await site.person(n) for n in ("ann", "bob", "dan")]
    # dan reviews no loop: he decides for ann while she is away.
    loop = await _loop(
        site, "pay", [ann, bob], assignment=AssignmentStrategy.round_robin, required_approvals=2
    )
    await _away(site, ann, dan)
    named = str((await site.create(loop, title="named at assignment"))["id"])
    async with Reviewer(site, "dan@example.com") as d, Reviewer(site, "ann@example.com") as a:
        assert await d.inbox() == [named]
        assert await d.count(loop) == 1
        assert "pay" in await d.page()  # the loop's name in the row and in the counts
        assert await d.session_next() == named
        assert await a.inbox() == [named]  # still hers too: she is its assignee
        assert await _listed(site, dan) == [named]

        await _approve(site, dan, named)  # for ann: her turn is spent, bob's is still open
        assert await d.inbox() == []
        assert await a.inbox() == []
        assert await d.session_next() is None

        # A request assigned to bob before he went away: dan stands in for him now.
        await assignments.clear_away(site.ctx, SYSTEM, ann)
        before = str((await site.create(loop, title="assigned first"))["id"])
        await _away(site, bob, dan)
        # bob's turn on both, but dan has voted on the first already (for ann).
        assert await d.inbox() == [before]
        assert await d.count(loop) == 1


async def test_reviewers_an_escalation_added_find_the_request(site: Site) -> None:
    clock = Clock(site.ctx)
    ann, eve = await site.person("ann"), await site.person("eve")
    loop = await _loop(
        site,
        "slow",
        [ann],
        assignment=AssignmentStrategy.round_robin,
        escalation=(EscalationStep(after_seconds=600, add_reviewers=(eve,)),),
    )
    request = str((await site.create(loop))["id"])
    async with Reviewer(site, "eve@example.com") as e:
        assert await e.inbox() == []
        assert await _listed(site, eve) == []
        clock.now += timedelta(seconds=601)
        while await timeouts.fire_due(site.ctx):
            pass
        assert await e.inbox() == [request]
        assert await e.count(loop) == 1
        assert await e.session_next() == request
        assert await _listed(site, eve) == [request]
        await _approve(site, eve, request)  # what the inbox offered, the vote takes
        assert (await site.response_of(request))["status"] == "completed"


async def test_a_stage_is_in_the_inbox_of_its_own_reviewers_only_while_current(
    site: Site,
) -> None:
    ann, bob, cat = [await site.person(n) for n in ("ann", "bob", "cat")]
    stages = (
        {"name": "lead", "reviewers": [ann, cat]},
        {"name": "finance", "reviewers": [bob]},
    )
    loop = await _loop(site, "staged", [ann, bob, cat], stages=stages)
    request = str((await site.create(loop))["id"])
    async with (
        Reviewer(site, "ann@example.com") as a,
        Reviewer(site, "bob@example.com") as b,
        Reviewer(site, "cat@example.com") as c,
    ):
        assert (await a.inbox(), await b.inbox(), await c.inbox()) == ([request], [], [request])
        assert await b.count(loop) == 0
        assert await b.session_next() is None
        await _approve(site, ann, request)  # lead approved: finance is current
        assert (await a.inbox(), await b.inbox(), await c.inbox()) == ([], [request], [])
        assert await c.count(loop) == 0
        assert await b.session_next() == request


async def test_a_stage_reviewer_no_longer_of_the_loop_gets_the_stage_assigned(
    site: Site,
) -> None:
    ann, dan = await site.person("ann"), await site.person("dan")
    stages = ({"name": "lead", "reviewers": [ann]}, {"name": "finance", "reviewers": [dan]})
    loop = await _loop(
        site, "moving", [ann, dan], assignment=AssignmentStrategy.round_robin, stages=stages
    )
    request = str((await site.create(loop))["id"])
    # dan leaves the loop; the request keeps the stages it was made with.
    changes = {"stages": [{"name": "lead", "reviewers": [ann]}], "reviewers": [ann]}
    await update_loop(site.ctx, SYSTEM, loop, changes)
    async with Reviewer(site, "dan@example.com") as d:
        assert await d.inbox() == []
        await _approve(site, ann, request)  # its finance stage goes to dan, as it names him
        assert await d.inbox() == [request]
        assert await d.session_next() == request
        assert await _listed(site, dan) == [request]


class Stream:
    """A reviewer's live inbox stream (the generator behind /inbox/stream), read in the
    background: `next_inbox` waits for its next `inbox` event."""

    def __init__(self, gen: AsyncIterator[str]) -> None:
        self.chunks: asyncio.Queue[str] = asyncio.Queue()
        self.task = asyncio.create_task(self._read(gen))

    async def _read(self, gen: AsyncIterator[str]) -> None:
        async for chunk in gen:
            await self.chunks.put(chunk)

    async def next_inbox(self, wait: float) -> str | None:
        deadline = asyncio.get_running_loop().time() + wait
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                chunk = await asyncio.wait_for(self.chunks.get(), left)
            except TimeoutError:
                return None
            if "event: inbox" in chunk:
                return chunk
        return None


async def test_live_updates_reach_a_delegate_and_spare_those_it_does_not_concern(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_inbox, "KEEP_ALIVE_SECONDS", 0.2)
    ann, bob, dan, eve = [await site.person(n) for n in ("ann", "bob", "dan", "eve")]
    loop = await _loop(site, "pay", [ann, bob], assignment=AssignmentStrategy.round_robin)
    other = await _loop(site, "other", [eve])
    await _away(site, ann, dan)
    async with Reviewer(site, "dan@example.com") as d, Reviewer(site, "eve@example.com") as e:
        streams = {}
        for who in (d, e):
            assert who.client is not None
            found = re.search(r'data-stream="/inbox/stream\?after=(\d+)"', await who.page())
            assert found
            session = await session_for(site.ctx, who.client.cookies["signoff_session"])
            assert session is not None
            gen = web_inbox._inbox_events(site.ctx, session, int(found.group(1)))
            streams[who.email] = Stream(gen)
        try:
            mine = str((await site.create(loop, title="for ann, so dan"))["id"])
            event = await streams["dan@example.com"].next_inbox(10)
            assert event is not None and mine in event
            assert await streams["eve@example.com"].next_inbox(1.0) is None
            # eve hears of her own loop's requests, and dan does not.
            theirs = str((await site.create(other, title="eve's"))["id"])
            event = await streams["eve@example.com"].next_inbox(10)
            assert event is not None and theirs in event
            assert await streams["dan@example.com"].next_inbox(1.0) is None
        finally:
            for stream in streams.values():
                stream.task.cancel()
            await asyncio.gather(*(s.task for s in streams.values()), return_exceptions=True)
