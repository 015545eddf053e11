"""Claim leases on open loops: taken, seen by others, released, expired (the clock is moved)."""

from __future__ import annotations

from datetime import timedelta

from tests.api.test_errors import assert_problem
from tests.conftest import Api

from .support import Clock, create, decide, loop, read, stamp, team


async def test_a_claim_is_seen_by_others_until_released(api: Api) -> None:
    clock = Clock(api)
    ids = await team(api, "ann", "bob", "eve")
    loop_id = await loop(api, [ids["ann"], ids["bob"]], "open")
    request = await create(api, loop_id)
    url = f"/v1/requests/{request['id']}/claim"
    r = await api.as_("ann", "POST", url)
    assert r.status_code == 200, r.text
    lease = api.ctx.limits.claim_lease_seconds
    claim = {
        "claimed_by": ids["ann"],
        "claimed_at": stamp(clock.now),
        "until": stamp(clock.now + timedelta(seconds=lease)),
    }
    assert r.json()["claim"] == claim
    # bob sees it, in the request and in the list, and cannot take it.
    assert (await read(api, request["id"], "bob"))["claim"] == claim
    listed = (await api.as_("bob", "GET", "/v1/requests")).json()["data"]
    assert [x["claim"] for x in listed] == [claim]
    body = assert_problem(await api.as_("bob", "POST", url), 409, slug="conflict")
    assert ids["ann"] in body["detail"] and claim["until"].removesuffix("Z") in body["detail"]
    # Nor can he release it; someone outside the loop cannot claim at all.
    assert_problem(await api.as_("bob", "DELETE", url), 409)
    assert_problem(await api.as_("eve", "POST", url), 403)
    assert_problem(await api.as_("requester", "POST", url), 403)
    # ann renews it (a later `until`), then leaves: released, bob takes it.
    clock.advance(seconds=60)
    r = await api.as_("ann", "POST", url)
    assert r.json()["claim"]["until"] == stamp(clock.now + timedelta(seconds=lease))
    r = await api.as_("ann", "DELETE", url)
    assert r.status_code == 200 and r.json()["claim"] is None
    assert (await read(api, request["id"], "bob"))["claim"] is None
    r = await api.as_("bob", "POST", url)
    assert r.json()["claim"]["claimed_by"] == ids["bob"]
    # An admin may break anyone's claim.
    r = await api.as_("admin", "DELETE", url)
    assert r.status_code == 200 and r.json()["claim"] is None


async def test_a_claim_expires_with_its_lease(api: Api) -> None:
    clock = Clock(api)
    ids = await team(api, "ann", "bob")
    loop_id = await loop(api, ids.values(), "open")
    request = await create(api, loop_id)
    url = f"/v1/requests/{request['id']}/claim"
    assert (await api.as_("ann", "POST", url)).status_code == 200
    lease = api.ctx.limits.claim_lease_seconds
    clock.advance(seconds=lease - 1)
    assert (await read(api, request["id"]))["claim"]["claimed_by"] == ids["ann"]
    assert_problem(await api.as_("bob", "POST", url), 409)
    clock.advance(seconds=1)  # the lease ends at `until` exactly
    assert (await read(api, request["id"]))["claim"] is None
    r = await api.as_("bob", "POST", url)
    assert r.status_code == 200 and r.json()["claim"]["claimed_by"] == ids["bob"]


async def test_deciding_releases_the_claim(api: Api) -> None:
    Clock(api)
    ids = await team(api, "ann", "bob")
    loop_id = await loop(api, ids.values(), "open", required_approvals=2)
    request = await create(api, loop_id)
    url = f"/v1/requests/{request['id']}/claim"
    assert (await api.as_("ann", "POST", url)).status_code == 200
    assert (await decide(api, "ann", request["id"])).status_code == 201
    assert (await read(api, request["id"]))["claim"] is None  # her vote ended her claim
    assert (await api.as_("bob", "POST", url)).status_code == 200
    assert (await decide(api, "bob", request["id"])).status_code == 201
    done = await read(api, request["id"])
    assert done["status"] == "completed" and done["claim"] is None
    assert_problem(await api.as_("ann", "POST", url), 409, slug="invalid-transition")


async def test_a_decided_request_shows_no_claim_even_if_someone_else_decided_it(
    api: Api,
) -> None:
    Clock(api)
    ids = await team(api, "ann", "bob")
    loop_id = await loop(api, ids.values(), "open")
    request = await create(api, loop_id)
    assert (await api.as_("ann", "POST", f"/v1/requests/{request['id']}/claim")).status_code == 200
    # A claim is a courtesy, not a lock: bob may still decide.
    assert (await decide(api, "bob", request["id"], "reject")).status_code == 201
    assert (await read(api, request["id"]))["claim"] is None
