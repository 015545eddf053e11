"""The web app over HTTP: sessions, CSRF, sign-in limits, roles, and the decision path."""

from __future__ import annotations

import asyncio
import re

import httpx

from signoff.domain.model import SYSTEM, UserRole
from signoff.service import sessions
from signoff.service.users import update_user
from tests.web.conftest import Site
from tests.web.support import PASSWORD, csrf_of, page_token, sign_in


async def test_pages_need_a_session_and_send_you_back_after_sign_in(site: Site) -> None:
    await site.person("ann")
    async with site.client() as browser:
        for path in ("/", "/session", "/requests/req_01JD0000000000000000000000"):
            response = await browser.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login")
        response = await browser.get("/?q=x")
        assert response.headers["location"] == "/login?next=/%3Fq%3Dx"
        signed_in = await sign_in(browser, "ann@example.com")
        assert signed_in.status_code == 303
        assert (await browser.get("/")).status_code == 200


async def test_the_session_cookie_is_httponly_lax_and_rotates_on_sign_in(site: Site) -> None:
    await site.person("ann")
    async with site.client() as browser:
        first = await sign_in(browser, "ann@example.com")
        cookie = first.headers["set-cookie"]
        assert "signoff_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        old = browser.cookies["signoff_session"]
        again = await sign_in(browser, "ann@example.com")
        assert again.status_code == 303
        new = browser.cookies["signoff_session"]
        assert new != old
        # The old token signs no one in any more.
        browser.cookies.set("signoff_session", old)
        assert (await browser.get("/")).status_code == 303


async def test_cookies_are_secure_over_https(site: Site) -> None:
    await site.person("ann")
    transport = httpx.ASGITransport(app=site.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as browser:
        response = await sign_in(browser, "ann@example.com")
        assert "Secure" in response.headers["set-cookie"]


async def test_a_form_without_the_right_csrf_token_is_refused(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    created = await site.create(loop)
    url = f"/requests/{created['id']}/decide"
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        token = await page_token(browser)
        for sent in ({}, {"csrf_token": "wrong"}, {"csrf_token": token + "x"}):
            response = await browser.post(url, data={"decision": "approve", **sent})
            assert response.status_code == 403, sent
            assert "text/html" in response.headers["content-type"]
            assert "expired or did not come from this page" in response.text
        cross = await browser.post(
            url,
            data={"decision": "approve", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        # Nothing was decided by any of them.
        assert (await site.response_of(str(created["id"])))["status"] == "pending"
        # The header works for fetch() calls, as the field does for forms.
        ok = await browser.post(url, data={"decision": "approve"}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 303
    assert (await site.response_of(str(created["id"])))["decision"] == "approved"


async def test_sign_in_and_sign_out_need_csrf_too(site: Site) -> None:
    await site.person("ann")
    async with site.client() as browser:
        response = await browser.post(
            "/login", data={"email": "ann@example.com", "password": PASSWORD}
        )
        assert response.status_code == 403
        await sign_in(browser, "ann@example.com")
        assert (await browser.post("/logout")).status_code == 403
        assert (await browser.get("/")).status_code == 200
        token = await page_token(browser)
        out = await browser.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303
        assert (await browser.get("/")).status_code == 303


async def test_a_wrong_password_is_refused_and_sign_ins_are_rate_limited(site: Site) -> None:
    await site.person("ann")
    async with site.client() as browser:
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
            wrong = await sign_in(browser, "ann@example.com", "not the password")
            assert wrong.status_code == 401
            assert "The email or the password is wrong." in wrong.text
        # Now even the right password waits: the account is resting.
        limited = await sign_in(browser, "ann@example.com")
        assert limited.status_code == 429
        message = r"Too many failed sign-ins for this account; try again in 1[45] minutes"
        assert re.search(message, limited.text)
        # Time passes (the clock is the context's): the account works again.
        real = site.ctx.clock
        site.ctx.clock = lambda: real() + sessions.ATTEMPT_WINDOW
        assert (await sign_in(browser, "ann@example.com")).status_code == 303


async def test_sign_ins_are_limited_per_address_across_accounts(site: Site) -> None:
    await site.person("ann")
    async with site.client() as browser:
        for i in range(sessions.MAX_FAILURES_PER_ADDRESS):
            assert (await sign_in(browser, f"nobody{i}@example.com", "x")).status_code == 401
        limited = await sign_in(browser, "ann@example.com")
        assert limited.status_code == 429
        assert "from your address" in limited.text


async def test_a_deactivated_user_is_signed_out(site: Site) -> None:
    ann = await site.person("ann")
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        assert (await browser.get("/")).status_code == 200
        await update_user(site.ctx, SYSTEM, ann, {"active": False})
        assert (await browser.get("/")).status_code == 303
        assert (await sign_in(browser, "ann@example.com")).status_code == 401


async def test_a_reviewer_cannot_see_or_decide_a_request_of_another_loop(site: Site) -> None:
    ann = await site.person("ann")
    bob = await site.person("bob")
    theirs = await site.loop("bobs", [bob])
    created = await site.create(theirs, title="Bob's secret")
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        token = await page_token(browser)
        inbox = await browser.get("/")
        assert "Bob&#39;s secret" not in inbox.text and "Bob's secret" not in inbox.text
        page = await browser.get(f"/requests/{created['id']}")
        assert page.status_code == 404
        assert "text/html" in page.headers["content-type"]
        decide = await browser.post(
            f"/requests/{created['id']}/decide", data={"decision": "approve", "csrf_token": token}
        )
        assert decide.status_code == 404
        batch = await browser.post(
            "/batch",
            data={
                "ids": [f"{created['id']}:{created['content_hash']}"],
                "decision": "approve",
                "csrf_token": token,
            },
        )
        assert "you are not a reviewer of" in batch.text
        stream = await browser.get(f"/requests/{created['id']}/stream")
        assert stream.status_code == 404
    assert ann  # ann exists and is simply not in bob's loop
    assert (await site.response_of(str(created["id"])))["status"] == "pending"


async def test_web_errors_are_pages_and_the_api_keeps_problem_json(site: Site) -> None:
    async with site.client() as browser:
        page = await browser.get("/nowhere", headers={"Accept": "text/html"})
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        assert "There is no page at this address." in page.text
        api = await browser.get("/v1/nowhere", headers={"Accept": "text/html"})
        assert api.headers["content-type"] == "application/problem+json"
        plain = await browser.get("/nowhere")
        assert plain.headers["content-type"] == "application/problem+json"


async def test_pages_carry_security_headers(site: Site) -> None:
    async with site.client() as browser:
        page = await browser.get("/login")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert (await browser.get("/static/signoff.css")).status_code == 200


async def test_approve_reject_and_late_votes_go_through_the_one_decision_path(site: Site) -> None:
    ann = await site.person("ann")
    bob = await site.person("bob")
    loop = await site.loop("team", [ann, bob])
    first = await site.create(loop, title="first")
    second = await site.create(loop, title="second")
    async with site.client() as a, site.client() as b:
        await sign_in(a, "ann@example.com")
        await sign_in(b, "bob@example.com")
        page = await a.get(f"/requests/{first['id']}")
        token = csrf_of(page.text)
        # A rejection needs feedback: refused with the error next to the field.
        refused = await a.post(
            f"/requests/{first['id']}/decide", data={"decision": "reject", "csrf_token": token}
        )
        assert refused.status_code == 422
        assert 'id="err-feedback"' in refused.text
        # Bob decides it first; Ann's page is stale and her vote is refused, not lost.
        b_token = await page_token(b, f"/requests/{first['id']}")
        done = await b.post(
            f"/requests/{first['id']}/decide",
            data={"decision": "reject", "feedback": "no", "csrf_token": b_token},
        )
        assert done.status_code == 303
        late = await a.post(
            f"/requests/{first['id']}/decide",
            data={"decision": "approve", "csrf_token": token},
        )
        assert late.status_code == 409
        assert "Your vote was not recorded" in late.text
        assert "nothing left to decide" in late.text
        approved = await a.post(
            f"/requests/{second['id']}/decide",
            data={"decision": "approve", "feedback": "fine", "csrf_token": token},
        )
        assert approved.headers["location"] == f"/requests/{second['id']}?done=approved"
    first_response = await site.response_of(str(first["id"]))
    assert first_response["decision"] == "rejected" and first_response["feedback"] == "no"
    second_response = await site.response_of(str(second["id"]))
    assert second_response["decision"] == "approved" and second_response["feedback"] == "fine"


async def test_a_changed_content_refuses_a_vote_cast_on_the_old_one(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("team", [ann])
    created = await site.create(loop)
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        page = await browser.get(f"/requests/{created['id']}")
        seen = re.search(r'name="content_hash" value="([^"]+)"', page.text)
        assert seen
        api = site.client()
        async with api:
            patched = await api.patch(
                f"/v1/requests/{created['id']}",
                json={"content": "something else"},
                headers={"Authorization": f"Bearer {site.admin_key}"},
            )
            assert patched.status_code == 200
        late = await browser.post(
            f"/requests/{created['id']}/decide",
            data={
                "decision": "approve",
                "content_hash": seen.group(1),
                "csrf_token": csrf_of(page.text),
            },
        )
        assert late.status_code == 409
        assert "the content changed since you read it" in late.text
    assert (await site.response_of(str(created["id"])))["status"] == "pending"


async def test_a_malformed_content_hash_is_bad_input_not_a_content_change(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("team", [ann])
    created = await site.create(loop)
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        page = await browser.get(f"/requests/{created['id']}")
        token = csrf_of(page.text)
        for seen in ("sha256:x", "nonsense", "SHA256:" + "0" * 64):
            refused = await browser.post(
                f"/requests/{created['id']}/decide",
                data={"decision": "approve", "content_hash": seen, "csrf_token": token},
            )
            assert refused.status_code == 422, seen
            assert "64 lowercase hex digits" in refused.text
            assert "the content changed" not in refused.text
        batch = await browser.post(
            "/batch",
            data={"ids": [f"{created['id']}:sha256:x"], "decision": "approve", "csrf_token": token},
        )
        assert "64 lowercase hex digits" in batch.text
    assert (await site.response_of(str(created["id"])))["status"] == "pending"


async def test_the_inbox_orders_filters_and_pages(site: Site) -> None:
    ann = await site.person("ann")
    one = await site.loop("one", [ann])
    two = await site.loop("two", [ann])
    low = await site.create(one, title="low one", priority="low")
    urgent = await site.create(two, title="urgent two", priority="urgent")
    normal = await site.create(one, title="normal one", metadata={"ticket": "T-4242"})
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        text = (await browser.get("/")).text
        order = [text.index(str(r["id"])) for r in (urgent, normal, low)]
        assert order == sorted(order)
        assert re.search(r"one: <span[^>]*>2</span> pending", text)
        only_one = (await browser.get(f"/?loop={one}")).text
        assert str(urgent["id"]) not in only_one and str(low["id"]) in only_one
        by_meta = (await browser.get("/?q=t-4242")).text
        assert str(normal["id"]) in by_meta and str(low["id"]) not in by_meta
        by_priority = (await browser.get("/?priority=urgent")).text
        assert str(urgent["id"]) in by_priority and str(normal["id"]) not in by_priority
        empty = (await browser.get("/?q=nothing-like-this")).text
        assert "No pending request matches these filters." in empty
        bad = await browser.get("/?after=bogus")
        assert bad.status_code == 422


async def test_the_inbox_pages_by_key_without_gaps(site: Site) -> None:
    from signoff.web import inbox

    ann = await site.person("ann")
    loop = await site.loop("many", [ann])
    made = []
    for i in range(inbox.PAGE_SIZE + 5):
        made.append(await site.create(loop, title=f"r{i}", priority="high" if i % 3 else "low"))
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        seen: list[str] = []
        url: str | None = "/"
        while url:
            text = (await browser.get(url)).text
            seen += re.findall(r'<tr data-request="(req_[0-9A-Z]+)"', text)
            found = re.search(r'href="([^"]+)" rel="next"', text)
            url = found.group(1).replace("&amp;", "&") if found else None
    expected = [str(r["id"]) for r in made if r["priority"] == "high"]
    expected += [str(r["id"]) for r in made if r["priority"] == "low"]
    assert seen == expected


async def test_an_admin_sees_every_loop(site: Site) -> None:
    await site.person("root", UserRole.admin)
    loop = await site.loop("nobodys", [])
    created = await site.create(loop)
    async with site.client() as browser:
        await sign_in(browser, "root@example.com")
        assert str(created["id"]) in (await browser.get("/")).text


async def test_forms_without_a_session_are_refused(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    created = await site.create(loop)
    async with site.client() as browser:
        token = csrf_of((await browser.get("/login")).text)  # a real anonymous token
        for path, form in (
            (f"/requests/{created['id']}/decide", {"decision": "approve"}),
            ("/batch", {"ids": created["id"], "decision": "approve"}),
            ("/logout", {}),
        ):
            response = await browser.post(path, data={**form, "csrf_token": token})
            assert response.status_code in (303, 403), path
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login")
        assert (await browser.get(f"/requests/{created['id']}/stream")).status_code == 303
    assert (await site.response_of(str(created["id"])))["status"] == "pending"


async def test_a_session_ends_when_idle_too_long_or_too_old(site: Site) -> None:
    await site.person("ann")
    real = site.ctx.clock
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        site.ctx.clock = lambda: real() + sessions.SESSION_IDLE / 2
        assert (await browser.get("/")).status_code == 200  # seen: the idle time starts again
        site.ctx.clock = lambda: real() + sessions.SESSION_IDLE * 1.4
        assert (await browser.get("/")).status_code == 200
        site.ctx.clock = lambda: real() + sessions.SESSION_IDLE * 2.5
        assert (await browser.get("/")).status_code == 303
    site.ctx.clock = real
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        for step in range(1, 18):  # active before every idle limit, but never past the lifetime
            later = sessions.SESSION_IDLE * 0.9 * step
            site.ctx.clock = lambda later=later: real() + later  # type: ignore[misc]
            expected = 200 if later < sessions.SESSION_LIFETIME else 303
            assert (await browser.get("/")).status_code == expected, step


async def test_sign_in_goes_back_only_to_a_page_of_this_site(site: Site) -> None:
    await site.person("ann")
    async with site.client() as browser:
        for target, expected in (("/requests/x", "/requests/x"), ("//evil.example/", "/")):
            form = await browser.get("/login", params={"next": target})
            response = await browser.post(
                "/login",
                data={
                    "email": "ann@example.com",
                    "password": PASSWORD,
                    "csrf_token": csrf_of(form.text),
                    "next": target,
                },
            )
            assert response.headers["location"] == expected
            browser.cookies.clear()


async def test_opening_a_request_claims_it_and_other_reviewers_see_who_has_it(site: Site) -> None:
    ann, bob = await site.person("ann"), await site.person("bob")
    loop = await site.loop("claims", [ann, bob])
    created = await site.create(loop)
    page_url = f"/requests/{created['id']}"
    async with site.client() as a, site.client() as b:
        await sign_in(a, "ann@example.com")
        await sign_in(b, "bob@example.com")
        page = await a.get(page_url)
        assert f'data-claim="{page_url}/claim"' in page.text  # the page's script posts this
        token = csrf_of(page.text)
        assert (await a.post(f"{page_url}/claim")).status_code == 403  # no CSRF token
        taken = await a.post(f"{page_url}/claim", headers={"X-CSRF-Token": token})
        assert taken.json() == {"claimed": True}
        seen = await b.get(page_url)
        assert 'id="claim-note"' in seen.text and "ann@example.com" in seen.text
        refused = await b.post(f"{page_url}/claim", headers={"X-CSRF-Token": csrf_of(seen.text)})
        assert refused.status_code == 409 and "claimed by" in refused.json()["detail"]
        assert 'id="claim-note"' not in (await a.get(page_url)).text  # not about yourself
        gone = await a.post(f"{page_url}/release", headers={"X-CSRF-Token": token})
        assert gone.json() == {"released": True}
        assert 'id="claim-note"' not in (await b.get(page_url)).text
    claim = (await site.response_of(str(created["id"])))["status"]
    assert claim == "pending"  # a claim decides nothing


async def test_every_page_answers_head_like_get_without_a_body_or_a_change(site: Site) -> None:
    root = await site.person("root", UserRole.admin)
    ann = await site.person("ann")
    loop = await site.loop("heads", [ann, root])
    created = await site.create(loop, title="Look, do not touch")
    request_id = str(created["id"])
    site.ctx.check_url = None  # the webhook URL need not resolve here
    async with site.client() as api:
        auth = {"Authorization": f"Bearer {site.admin_key}"}
        endpoint = await api.post(
            "/v1/webhooks", json={"url": "https://hooks.example.com/h"}, headers=auth
        )
    assert endpoint.status_code == 201, endpoint.text

    async def events() -> list[object]:
        async with site.client() as api:
            got = await api.get(
                f"/v1/requests/{request_id}/events",
                headers={"Authorization": f"Bearer {site.admin_key}"},
            )
        return list(got.json()["data"])

    before = await events()
    pages = [
        "/",
        "/?q=touch",
        "/session",
        f"/requests/{request_id}",
        "/login",
        "/admin",
        "/admin/loops",
        "/admin/loops/new",
        f"/admin/loops/{loop}",
        "/admin/users",
        "/admin/keys",
        "/admin/webhooks",
        f"/admin/webhooks/{endpoint.json()['id']}",
        "/requests/req_01JD0000000000000000000000",  # an error page answers HEAD too
    ]
    for who in ("ann@example.com", "root@example.com"):
        async with site.client() as browser:
            await sign_in(browser, who)
            for path in pages:
                got = await browser.get(path)
                head = await browser.head(path)
                assert head.status_code == got.status_code != 405, (who, path)
                assert head.content == b"", (who, path)
                assert head.headers.get("content-type") == got.headers.get("content-type")
                assert head.headers.get("location") == got.headers.get("location")
                if "content-length" in got.headers:
                    assert head.headers["content-length"] == str(len(got.content)), path
            # A stream answers HEAD at once instead of streaming into nothing.
            for path in ("/inbox/stream", f"/requests/{request_id}/stream"):
                head = await asyncio.wait_for(browser.head(path), 5)
                assert head.status_code == 200 and head.content == b"", path
    async with site.client() as nobody:
        head = await nobody.head(f"/requests/{request_id}")
        assert head.status_code == 303
        assert head.headers["location"] == f"/login?next=/requests/{request_id}"
    # Looking is not picking up: no claim, the pickup clock still runs, nothing happened.
    async with site.client() as api:
        now = await api.get(
            f"/v1/requests/{request_id}", headers={"Authorization": f"Bearer {site.admin_key}"}
        )
    assert now.json()["picked_up_at"] is None and now.json()["claim"] is None
    assert await events() == before


async def test_a_refused_batch_shows_the_inbox_again_with_the_boxes_ticked(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("batches", [ann])
    one, two = await site.create(loop, title="one"), await site.create(loop, title="two")
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")
        inbox = await browser.get("/")
        ticked = re.findall(r'name="ids" value="([^"]+)"', inbox.text)
        assert len(ticked) == 2
        token = csrf_of(inbox.text)
        refused = await browser.post(
            "/batch",
            data={"csrf_token": token, "decision": "reject", "ids": ticked, "feedback": " "},
        )
        assert refused.status_code == 422 and "<h1>Inbox</h1>" in refused.text
        assert re.search(r'id="err-batch-feedback" role="alert">Write some feedback', refused.text)
        for value in ticked:
            assert f'value="{value}" id="sel-' in refused.text
            assert re.search(rf'value="{re.escape(value)}"[^>]*checked', refused.text)
        empty = await browser.post("/batch", data={"csrf_token": token, "decision": "approve"})
        assert empty.status_code == 422
        assert "Select at least one request first." in empty.text
    for request in (one, two):
        assert (await site.response_of(str(request["id"])))["status"] == "pending"
