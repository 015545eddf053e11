"""One policy for who may decide: the inbox (store/deciders.py, in SQL) and the vote (domain/
assignment.py `standing` and `cast_vote`) must name the same requests for every person, on
SQLite and PostgreSQL.

A world with every way of being entitled: open loops, round robin and least loaded (with and
without assignees), stages with reviewers of their own and stages that take the loop's,
delegates named at assignment and delegates standing in now, reviewers added by escalation,
an admin's reassignment, votes cast (also by a delegate), content changed. For each person the
inbox (every page), its counts and `GET /v1/requests` are checked against the vote's own
checks, dry run on every pending request.
"""

from __future__ import annotations

from typing import Any

from signoff.domain.model import Choice, Principal, Role, Status, User
from signoff.domain.voting import Ballot
from signoff.errors import SignoffError
from signoff.service import review, timeouts
from signoff.service.votes import check_vote
from signoff.store import loops as loop_store
from signoff.store import requests as request_store
from signoff.store import users as user_store
from tests.api.test_errors import all_pages
from tests.conftest import Api

from .support import Clock, create, decide, loop, team

PEOPLE = ("ann", "bob", "cat", "dan", "eve", "fay")


async def _may_vote(api: Api, who: Principal) -> set[str]:
    """The pending requests `who` could vote on now (a rejection: it needs no more rights than
    an approval, and no self-approval rule stops it), by the vote's own checks."""
    found = set()
    async with api.ctx.db.read() as conn:
        pending = await request_store.list_requests(
            conn, request_store.RequestFilter(status=Status.pending), None, 10_000
        )
        for request in pending:
            loop_ = await loop_store.get_loop(conn, request.loop_id)
            assert loop_ is not None
            votes = await request_store.live_votes(conn, request.id)
            try:
                await check_vote(
                    conn,
                    who,
                    request,
                    loop_,
                    votes,
                    Ballot(Choice.reject, feedback="no"),
                    api.ctx.clock(),
                )
            except SignoffError:
                continue
            found.add(request.id)
    return found


async def _inbox(api: Api, who: Principal) -> tuple[list[str], dict[str, int]]:
    """Every request of `who`'s inbox, page after page, and its counts per loop."""
    ids: list[str] = []
    after = None
    counts: dict[str, int] = {}
    while True:
        page = await review.inbox(api.ctx, who, review.InboxFilter(), after, 3)
        counts = counts or page.counts
        ids += [r.id for r in page.requests]
        assert set(counts) <= set(page.loops), "a count names a loop the page cannot show"
        if page.next_key is None:
            return ids, counts
        after = page.next_key


async def _principal(api: Api, user_id: str) -> Principal:
    async with api.ctx.db.read() as conn:
        user = await user_store.get_user(conn, user_id)
    assert isinstance(user, User)
    return Principal(
        Role(user.role.value), key_id=None, user_id=user.id, user_email=user.email, name=user.name
    )


async def _world(api: Api, clock: Clock, ids: dict[str, str]) -> None:
    """Loops, absences, requests, votes, an escalation and a reassignment."""
    stage = lambda name, who: {"name": name, "reviewers": [ids[n] for n in who]}  # noqa: E731
    names = {n: ids[n] for n in PEOPLE}
    open_ = await loop(api, [names["ann"], names["bob"]], "open")
    rr = await loop(
        api,
        [names["bob"], names["cat"], names["dan"]],
        "round_robin",
        escalation=[{"after_seconds": 600, "add_reviewers": [names["eve"]]}],
    )
    ll = await loop(api, [names["ann"], names["cat"], names["dan"]], "least_loaded", name="ll")
    staged_open = await loop(
        api,
        [names["ann"], names["bob"], names["cat"]],
        "open",
        name="staged-open",
        stages=[stage("lead", ["ann"]), stage("finance", [])],
        escalation=[{"after_seconds": 600, "add_reviewers": [names["fay"]]}],
    )
    staged_rr = await loop(
        api,
        [names["bob"], names["cat"], names["dan"], names["eve"]],
        "round_robin",
        name="staged-rr",
        stages=[stage("lead", ["bob", "cat"]), stage("finance", ["dan", "eve"])],
    )
    nobody = await loop(api, [names["fay"]], "round_robin", name="nobody")

    # cat is away before anything is assigned: her turns name fay (no reviewer of those loops).
    r = await api.as_(
        "admin", "PUT", f"/v1/users/{names['cat']}/away", json={"delegate_id": names["fay"]}
    )
    assert r.status_code == 200, r.text
    made: dict[str, list[dict[str, Any]]] = {}
    for name, loop_id in [
        ("open", open_),
        ("rr", rr),
        ("ll", ll),
        ("staged-open", staged_open),
        ("staged-rr", staged_rr),
    ]:
        made[name] = [await create(api, loop_id, title=f"{name} {i}") for i in range(3)]
    made["ll"].append(await create(api, ll, required_approvals=2, title="ll two"))
    # fay asked for these herself: nobody can be given them, so the loop's reviewers may decide.
    made["nobody"] = [await create(api, nobody, requested_by=names["fay"], title="nobody")]

    # Votes: stages move on; a delegate votes for cat; one approval of two.
    assert (await decide(api, "ann", made["staged-open"][0]["id"])).status_code == 201
    lead = made["staged-rr"][0]
    r = await decide(api, _name(ids, lead["assignees"][0]["user_id"]), lead["id"])
    assert r.status_code == 201, r.text
    delegated = next(
        (
            r
            for r in made["rr"] + made["ll"]
            if r["assignees"] and r["assignees"][0]["user_id"] == names["cat"]
        ),
        None,
    )
    if delegated is not None:
        assert (await decide(api, "fay", delegated["id"])).status_code == 201
    two = made["ll"][-1]
    r = await decide(api, _name(ids, two["assignees"][0]["user_id"]), two["id"])
    assert r.status_code == 201, r.text

    # bob away now, ann stands in for him (his assignments do not name her); dan away with nobody.
    r = await api.as_(
        "admin", "PUT", f"/v1/users/{names['bob']}/away", json={"delegate_id": names["ann"]}
    )
    assert r.status_code == 200, r.text
    r = await api.as_("admin", "PUT", f"/v1/users/{names['dan']}/away", json={})
    assert r.status_code == 200, r.text
    # An admin gives one request to eve; new content sends a staged request back to its start.
    r = await api.as_(
        "admin",
        "POST",
        f"/v1/requests/{made['rr'][0]['id']}/assign",
        json={"user_id": names["eve"]},
    )
    assert r.status_code == 200, r.text
    r = await api.as_(
        "requester", "PATCH", f"/v1/requests/{made['staged-rr'][0]['id']}", json={"content": "new"}
    )
    assert r.status_code == 200, r.text
    # Ten minutes on: escalation adds eve (round robin) and fay (staged, open) to what waits.
    clock.advance(seconds=601)
    while await timeouts.fire_due(api.ctx):
        pass


def _name(ids: dict[str, str], user_id: str) -> str:
    return next(n for n, i in ids.items() if i == user_id)


async def test_the_inbox_holds_exactly_what_the_vote_allows(api: Api) -> None:
    clock = Clock(api)
    ids = await team(api, *PEOPLE)
    await _world(api, clock, ids)
    sizes = {}
    for name in PEOPLE:
        who = await _principal(api, ids[name])
        allowed = await _may_vote(api, who)
        sizes[name] = len(allowed)
        inbox, counts = await _inbox(api, who)
        assert len(inbox) == len(set(inbox)), f"{name}: a request came twice"
        assert set(inbox) == allowed, name
        async with api.ctx.db.read() as conn:
            loop_of = {r.id: r.loop_id for r in await request_store.get_requests(conn, inbox)}
        per_loop: dict[str, int] = {}
        for request_id in inbox:
            per_loop[loop_of[request_id]] = per_loop.get(loop_of[request_id], 0) + 1
        assert counts == per_loop, name
        # The API's list shows the reviewer every request they may decide (and may read each).
        listed = {
            r["id"] for r in await all_pages(api, "/v1/requests", name, {"status": "pending"})
        }
        assert allowed <= listed, name
        for request_id in listed:
            r = await api.as_(name, "GET", f"/v1/requests/{request_id}")
            assert r.status_code == 200, (name, r.text)
    assert all(sizes.values()), sizes  # everyone has something to decide: no empty world
