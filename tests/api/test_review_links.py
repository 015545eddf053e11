"""Review links: issued over the API, opened and decided through the service (the web page's
path), bound to their request, reviewer, content and expiry; spent by their vote; revocable."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from signoff.domain.model import SYSTEM, Choice
from signoff.domain.tokens import TokenState
from signoff.domain.voting import Ballot
from signoff.errors import Conflict, Forbidden, NotFound, ValidationFailed
from signoff.service import review_links
from signoff.service.users import update_user
from tests.api.test_errors import GHOST_REQUEST, GHOST_USER, all_events, assert_problem, case
from tests.conftest import Api

LINK_FIELDS = {
    "id", "request_id", "user_id", "email", "name", "state", "content_hash", "expires_at",
    "created_at", "spent_at", "vote_id", "revoked_at",
}  # fmt: skip


async def _setup(api: Api, **loop: object) -> tuple[str, str, dict[str, Any]]:
    """A loop reviewed by ann, a pending request in it; answers (ann's id, loop id, request)."""
    ann = await api.add_reviewer("ann")
    r = await api.as_(
        "admin", "POST", "/v1/loops", json={"name": "refunds", "reviewers": [ann], **loop}
    )
    loop_id = r.json()["id"]
    r = await api.as_(
        "requester",
        "POST",
        f"/v1/loops/{loop_id}/requests",
        json={"content": "Refund $120 to Bob", "requested_by": "agent@example.com"},
    )
    assert r.status_code == 201, r.text
    return ann, loop_id, r.json()


async def _issue(api: Api, request_id: str, who: str = "admin", **body: object) -> Any:
    r = await api.as_(who, "POST", f"/v1/requests/{request_id}/review-links", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _token(url: str) -> str:
    assert "/r/" in url
    return url.rsplit("/r/", 1)[1]


def _approve(content_hash: str | None, **kw: Any) -> Ballot:
    return Ballot(choice=Choice.approve, content_hash=content_hash, **kw)


async def test_a_link_for_someone_without_an_account_decides_once(api: Api) -> None:
    _, _, req = await _setup(api)
    link = await _issue(api, req["id"], email=" Dee@Example.com ", name="Dee", expires_in=3600)
    assert set(link) == LINK_FIELDS | {"url"}
    assert link["url"].startswith("http://testserver/r/")
    assert (link["email"], link["name"], link["user_id"], link["state"]) == (
        "dee@example.com",
        "Dee",
        None,
        "valid",
    )
    token = _token(link["url"])

    opened = await review_links.open_review_link(api.ctx, token)
    assert (opened.state, opened.content_changed, opened.request.id) == (
        TokenState.valid,
        False,
        req["id"],
    )
    # Opening (twice) decided nothing.
    opened = await review_links.open_review_link(api.ctx, token)
    status = (await api.as_("requester", "GET", f"/v1/requests/{req['id']}/status")).json()
    assert status["status"] == "pending"

    request, _, cast = await review_links.vote_by_link(
        api.ctx, token, _approve(opened.request.content_hash, feedback="ok")
    )
    assert (request.status.value, request.decision and request.decision.value) == (
        "completed",
        "approved",
    )
    r = await api.as_("requester", "GET", f"/v1/requests/{req['id']}/response")
    [voter] = r.json()["decided_by"]
    assert voter == {
        "type": "link",
        "link_id": link["id"],
        "email": "dee@example.com",
        "role": "reviewer",
        "name": "Dee",
    }
    # The link is spent: it shows so, and refuses a second decision.
    opened = await review_links.open_review_link(api.ctx, token)
    assert opened.state is TokenState.spent
    with pytest.raises(Conflict, match="already used"):
        await review_links.vote_by_link(api.ctx, token, _approve(opened.request.content_hash))
    [listed] = (await api.as_("admin", "GET", f"/v1/requests/{req['id']}/review-links")).json()[
        "data"
    ]
    assert (listed["state"], listed["vote_id"]) == ("spent", cast.id)
    events = await all_events(api, type="review_link.issued")
    assert [e["data"]["link_id"] for e in events] == [link["id"]]
    assert token not in json.dumps(await all_events(api)) + json.dumps(listed)


async def test_a_users_link_votes_as_that_user_once(api: Api) -> None:
    ann, _, req = await _setup(api, required_approvals=2)
    link = await _issue(api, req["id"], "requester", user_id=ann)
    assert (link["user_id"], link["email"], link["name"]) == (ann, "ann@example.com", "Ann")
    # An email that belongs to a user binds to the user, too.
    by_email = await _issue(api, req["id"], email="ANN@example.com", name="whoever")
    assert (by_email["user_id"], by_email["name"]) == (ann, "Ann")
    token = _token(link["url"])
    await review_links.vote_by_link(api.ctx, token, _approve(req["content_hash"]))
    r = await api.as_(
        "ann", "POST", f"/v1/requests/{req['id']}/decisions", json={"decision": "approve"}
    )
    assert_problem(r, 409, slug="conflict")
    with pytest.raises(Conflict, match="already voted"):
        await review_links.vote_by_link(
            api.ctx, _token(by_email["url"]), _approve(req["content_hash"])
        )
    events = await all_events(api, type="request.vote")
    assert events[0]["actor"]["type"] == "link"
    assert events[0]["data"]["voter"]["user_id"] == ann


async def test_tampered_made_up_and_foreign_tokens_are_not_links(api: Api) -> None:
    _, _, req = await _setup(api)
    token = _token((await _issue(api, req["id"], email="dee@example.com", name="Dee"))["url"])
    link_id, nonce, sig = token.split(".")
    flip = lambda s: s[:-1] + ("A" if s[-1] != "A" else "B")  # noqa: E731
    bad = [
        "",
        "nonsense",
        f"{link_id}.{nonce}",
        f"{link_id}.{nonce}.{flip(sig)}",
        f"{link_id}.{flip(nonce)}.{sig}",
        f"rlk_01J00000000000000000000000.{nonce}.{sig}",
        token + "x",
        token.upper(),
        "a.b.c",
    ]
    for candidate in bad:
        with case(candidate):
            with pytest.raises(NotFound, match="not valid"):
                await review_links.open_review_link(api.ctx, candidate)
            with pytest.raises(NotFound, match="not valid"):
                await review_links.vote_by_link(api.ctx, candidate, _approve(req["content_hash"]))
    status = (await api.as_("requester", "GET", f"/v1/requests/{req['id']}/status")).json()
    assert status["status"] == "pending"


async def test_an_expired_link_shows_so_and_decides_nothing(api: Api) -> None:
    _, _, req = await _setup(api)
    link = await _issue(api, req["id"], email="dee@example.com", name="Dee", expires_in=60)
    token = _token(link["url"])
    real = api.ctx.clock
    api.ctx.clock = lambda: real() + timedelta(seconds=61)
    try:
        assert (await review_links.open_review_link(api.ctx, token)).state is TokenState.expired
        with pytest.raises(Forbidden, match="expired"):
            await review_links.vote_by_link(api.ctx, token, _approve(req["content_hash"]))
        listed = (await api.as_("admin", "GET", f"/v1/requests/{req['id']}/review-links")).json()
        assert listed["data"][0]["state"] == "expired"
    finally:
        api.ctx.clock = real
    status = (await api.as_("requester", "GET", f"/v1/requests/{req['id']}/status")).json()
    assert status["status"] == "pending"


async def test_revoked_links_and_deactivated_users_decide_nothing(api: Api) -> None:
    ann, _, req = await _setup(api)
    dee = await _issue(api, req["id"], email="dee@example.com", name="Dee")
    r = await api.as_("admin", "DELETE", f"/v1/requests/{req['id']}/review-links/{dee['id']}")
    assert (r.status_code, r.json()["state"]) == (200, "revoked")
    token = _token(dee["url"])
    assert (await review_links.open_review_link(api.ctx, token)).state is TokenState.revoked
    with pytest.raises(Forbidden, match="revoked"):
        await review_links.vote_by_link(api.ctx, token, _approve(req["content_hash"]))

    anns = _token((await _issue(api, req["id"], user_id=ann))["url"])
    await update_user(api.ctx, SYSTEM, ann, {"active": False})
    assert (await review_links.open_review_link(api.ctx, anns)).state is TokenState.revoked
    with pytest.raises(Forbidden, match="revoked"):
        await review_links.vote_by_link(api.ctx, anns, _approve(req["content_hash"]))
    r = await api.as_(
        "admin", "POST", f"/v1/requests/{req['id']}/review-links", json={"user_id": ann}
    )
    assert_problem(r, 422, fields={"body.user_id"})
    status = (await api.as_("requester", "GET", f"/v1/requests/{req['id']}/status")).json()
    assert status["status"] == "pending"
    assert [e["data"]["link_id"] for e in await all_events(api, type="review_link.revoked")] == [
        dee["id"]
    ]


async def test_a_link_whose_content_changed_binds_the_vote_to_what_is_shown(api: Api) -> None:
    _, _, req = await _setup(api)
    token = _token((await _issue(api, req["id"], email="dee@example.com", name="Dee"))["url"])
    r = await api.as_(
        "requester", "PATCH", f"/v1/requests/{req['id']}", json={"content": "Refund $900 to Bob"}
    )
    assert r.status_code == 200, r.text
    opened = await review_links.open_review_link(api.ctx, token)
    assert opened.content_changed and opened.request.content == "Refund $900 to Bob"
    # A vote on the content the link was made for, or on no stated content, is refused.
    with pytest.raises(Conflict, match="content changed"):
        await review_links.vote_by_link(api.ctx, token, _approve(req["content_hash"]))
    with pytest.raises(ValidationFailed, match="content_hash"):
        await review_links.vote_by_link(api.ctx, token, _approve(None))
    # A hash the service never makes is bad input, not a change of content.
    for malformed in ("nonsense", "sha256:x", req["content_hash"].upper()):
        with pytest.raises(ValidationFailed, match="64 lowercase hex digits"):
            await review_links.vote_by_link(api.ctx, token, _approve(malformed))
    assert (await review_links.open_review_link(api.ctx, token)).state is TokenState.valid
    request, _, cast = await review_links.vote_by_link(
        api.ctx, token, _approve(opened.request.content_hash)
    )
    assert request.decision is not None and request.decision.value == "approved"
    assert cast.content_hash == opened.request.content_hash != req["content_hash"]


async def test_the_requester_cannot_approve_through_a_link(api: Api) -> None:
    _, _, req = await _setup(api)
    # An admin sent a link to the address the agent asked as: it may reject, never approve.
    token = _token((await _issue(api, req["id"], email="agent@example.com", name="Agent"))["url"])
    with pytest.raises(Forbidden, match="your own request"):
        await review_links.vote_by_link(api.ctx, token, _approve(req["content_hash"]))
    request, _, _ = await review_links.vote_by_link(
        api.ctx,
        token,
        Ballot(
            choice=Choice.reject, feedback="not mine to approve", content_hash=req["content_hash"]
        ),
    )
    assert request.decision is not None and request.decision.value == "rejected"


async def test_issuing_links_checks_roles_and_input(api: Api) -> None:
    ann, _, req = await _setup(api)
    bob = await api.add_reviewer("bob")  # not a reviewer of this loop
    url = f"/v1/requests/{req['id']}/review-links"
    for body, field in [
        ({}, "body.user_id"),
        ({"user_id": ann, "email": "a@example.com"}, "body.email"),
        ({"email": "not an email"}, "body.email"),
        ({"user_id": GHOST_USER}, "body.user_id"),
        ({"user_id": ann, "expires_in": 0}, "body.expires_in"),
        ({"user_id": ann, "expires_in": 31 * 24 * 3600}, "body.expires_in"),
        ({"user_id": ann, "expires_in": "60"}, "body.expires_in"),
        ({"user_id": ann, "role": "admin"}, "body.role"),
    ]:
        with case(body):
            assert_problem(await api.as_("admin", "POST", url, json=body), 422, fields={field})
    with case("reviewer"):
        assert_problem(await api.as_("ann", "POST", url, json={"user_id": ann}), 403)
        assert_problem(await api.as_("ann", "GET", url), 403)
    with case("requester, someone outside the loop"):
        r = await api.as_("requester", "POST", url, json={"user_id": bob})
        assert_problem(r, 403, slug="forbidden")
        r = await api.as_("requester", "POST", url, json={"email": "x@example.com", "name": "X"})
        assert_problem(r, 403, slug="forbidden")
    with case("no key"):
        assert_problem(await api.client.post(url, json={"user_id": ann}), 401)
    with case("unknown request"):
        r = await api.as_(
            "admin", "POST", f"/v1/requests/{GHOST_REQUEST}/review-links", json={"user_id": ann}
        )
        assert_problem(r, 404)
    with case("unknown link"):
        r = await api.as_("admin", "DELETE", f"{url}/rlk_01J00000000000000000000000")
        assert_problem(r, 404)
    assert await all_events(api, type="review_link.issued") == []
    await api.as_("requester", "POST", f"/v1/requests/{req['id']}/cancel")
    r = await api.as_("admin", "POST", url, json={"user_id": ann})
    assert_problem(r, 409, slug="invalid-transition")
