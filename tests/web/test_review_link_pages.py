"""The review-link page /r/{token} over HTTP: looking never decides; deciding needs the page's
CSRF token, once; tampered, expired, revoked and spent links say so and decide nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from signoff.domain.model import SYSTEM
from signoff.domain.tokens import LinkReviewer
from signoff.service import review_links
from signoff.service.users import update_user
from tests.web.conftest import Site
from tests.web.support import csrf_of

HASH = re.compile(r'name="content_hash" value="([^"]+)"')
META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def meta_token(html: str) -> str:
    """The page's CSRF token, on pages without a form."""
    found = META.search(html)
    assert found, html[:1000]
    return found.group(1)


SCANNERS = {
    "mail scanner": {"user-agent": "Mozilla/5.0 (compatible; SafeLinks)"},
    "chat unfurler": {"user-agent": "Slackbot-LinkExpanding 1.0", "accept": "*/*"},
    "preview": {"accept": "text/html", "purpose": "prefetch", "sec-purpose": "prefetch"},
}


async def _link(site: Site, **kw: Any) -> tuple[dict[str, Any], str]:
    ann = await site.person("ann")
    loop = await site.loop("refunds", [ann])
    created = await site.create(loop, content="Refund $120 to Bob", title="Refund")
    issued = await review_links.issue_review_link(
        site.ctx,
        str(created["id"]),
        kw.pop("reviewer", LinkReviewer(email="dee@example.com", name="Dee")),
        kw.pop("ttl", timedelta(hours=1)),
    )
    path = issued.url.removeprefix("http://testserver")
    assert path.startswith("/r/")
    return created, path


async def _decide(
    browser: httpx.AsyncClient, path: str, decision: str = "approve", **form: str
) -> httpx.Response:
    page = await browser.get(path)
    assert page.status_code == 200, page.text[:1000]
    found = HASH.search(page.text)
    assert found
    data = {
        "csrf_token": csrf_of(page.text),
        "content_hash": found.group(1),
        "decision": decision,
        **form,
    }
    return await browser.post(path, data=data)


async def test_opening_a_link_in_any_way_decides_nothing(site: Site) -> None:
    created, path = await _link(site)
    async with site.client() as browser:
        for name, headers in SCANNERS.items():
            for method in ("GET", "HEAD"):
                r = await browser.request(method, path, headers=headers)
                assert r.status_code == 200, (name, method)
        page = await browser.get(path)
        assert "Refund $120 to Bob" in page.text and 'action="' + path + '"' in page.text
    # A POST without the page's token is not a decision either.
    async with site.client() as scanner:
        for data in ({}, {"decision": "approve"}, {"decision": "approve", "csrf_token": "x"}):
            r = await scanner.post(path, data=data)
            assert r.status_code == 403, r.text[:500]
    response = await site.response_of(str(created["id"]))
    assert response["status"] == "pending"
    async with site.client() as browser:
        await browser.get(path)
        # The token of another browser is not this one's.
        other = csrf_of((await site.client().get(path)).text)
        r = await browser.post(path, data={"csrf_token": other, "decision": "approve"})
        assert r.status_code == 403
    assert (await site.response_of(str(created["id"])))["status"] == "pending"


async def test_deciding_through_the_page_spends_the_link(site: Site) -> None:
    created, path = await _link(site)
    async with site.client() as browser:
        r = await _decide(browser, path, "reject", feedback="Bob was refunded already")
        assert r.status_code == 303, r.text[:1000]
        assert r.headers["location"] == f"{path}?done=rejected"
        done = await browser.get(r.headers["location"])
        assert done.status_code == 200 and "the request is rejected" in done.text
        assert 'name="decision"' not in done.text
        # The spent link cannot decide again, even with a fresh token and the right hash.
        again = await browser.post(
            path,
            data={
                "csrf_token": meta_token(done.text),
                "decision": "approve",
                "content_hash": "sha256:x",
            },
        )
        assert again.status_code == 200 and "was used" in again.text
    response = await site.response_of(str(created["id"]))
    assert (response["decision"], response["feedback"]) == ("rejected", "Bob was refunded already")
    [voter] = response["decided_by"]  # type: ignore[misc]
    assert (voter["type"], voter["email"], voter["name"]) == ("link", "dee@example.com", "Dee")


async def test_tampered_expired_and_revoked_links_show_a_page_and_decide_nothing(
    site: Site,
) -> None:
    created, path = await _link(site)
    async with site.client() as browser:
        for bad in (path[:-1] + ("A" if path[-1] != "A" else "B"), path + "x", "/r/nonsense"):
            r = await browser.get(bad)
            assert r.status_code == 404 and "not valid" in r.text
            data = {"csrf_token": meta_token(r.text), "decision": "approve"}
            r = await browser.post(bad, data=data)
            assert r.status_code == 404
        page = await browser.get(path)
        token = csrf_of(page.text)
        real = site.ctx.clock
        site.ctx.clock = lambda: real() + timedelta(hours=2)
        try:
            r = await browser.get(path)
            assert r.status_code == 410 and "expired" in r.text
            found = HASH.search(page.text)
            assert found
            data = {"csrf_token": token, "decision": "approve", "content_hash": found.group(1)}
            r = await browser.post(path, data=data)
            assert r.status_code == 410
        finally:
            site.ctx.clock = real
    links = await review_links.list_review_links(site.ctx, SYSTEM, str(created["id"]))
    await review_links.revoke_review_link(site.ctx, SYSTEM, str(created["id"]), links[0].id)
    async with site.client() as browser:
        r = await browser.get(path)
        assert r.status_code == 410 and "no longer works" in r.text
    assert (await site.response_of(str(created["id"])))["status"] == "pending"


async def test_a_deactivated_users_link_stops_working(site: Site) -> None:
    bob = await site.person("bob")
    created, path = await _link(site, reviewer=bob)
    await update_user(site.ctx, SYSTEM, bob, {"active": False})
    async with site.client() as browser:
        r = await browser.get(path)
        assert r.status_code == 410
    assert (await site.response_of(str(created["id"])))["status"] == "pending"


async def test_a_malformed_content_hash_is_bad_input_and_spends_nothing(site: Site) -> None:
    created, path = await _link(site)
    async with site.client() as browser:
        r = await _decide(browser, path, content_hash="sha256:x")
        assert r.status_code == 422 and "64 lowercase hex digits" in r.text
        assert "the content changed" not in r.text
        assert (await _decide(browser, path)).status_code == 303
    assert (await site.response_of(str(created["id"])))["decision"] == "approved"


async def test_changed_content_is_shown_and_the_vote_binds_to_it(site: Site) -> None:
    created, path = await _link(site)
    async with site.client() as browser:
        before = await browser.get(path)
        old_hash = HASH.search(before.text)
        assert old_hash
        async with site.client() as api:
            r = await api.patch(
                f"/v1/requests/{created['id']}",
                json={"content": "Refund $900 to Bob"},
                headers={"Authorization": f"Bearer {site.admin_key}"},
            )
            assert r.status_code == 200, r.text
        # A form read before the change is refused, and the page shows the new content.
        r = await browser.post(
            path,
            data={
                "csrf_token": csrf_of(before.text),
                "decision": "approve",
                "content_hash": old_hash.group(1),
            },
        )
        assert r.status_code == 409 and "Refund $900 to Bob" in r.text
        assert "changed after this link was sent" in r.text
        r = await _decide(browser, path)
        assert r.status_code == 303
    response = await site.response_of(str(created["id"]))
    assert (response["decision"], response["content"]) == ("approved", "Refund $900 to Bob")


async def test_a_refused_answer_through_a_link_speaks_of_the_page(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("plans", [ann])
    created = await site.create(loop, response={"type": "choice", "options": ["basic", "pro"]})
    issued = await review_links.issue_review_link(
        site.ctx, str(created["id"]), LinkReviewer(email="dee@example.com", name="Dee")
    )
    async with site.client() as browser:
        refused = await _decide(browser, issued.url.removeprefix("http://testserver"))
    assert refused.status_code == 422
    assert 'id="err-response_data" role="alert">Pick one of the choices.</p>' in refused.text
    assert "body.response_data" not in refused.text
    assert (await site.response_of(str(created["id"])))["status"] == "pending"
