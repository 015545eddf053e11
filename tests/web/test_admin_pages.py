"""Admin pages over HTTP: admins only, CSRF on every form, every change through the service."""

from __future__ import annotations

import re

from signoff.domain.model import SYSTEM, UserRole
from signoff.service import loops as loop_service
from signoff.service import users as user_service
from signoff.service import webhooks as webhook_service
from tests.web.conftest import Site
from tests.web.support import csrf_of, page_token, sign_in

PAGES = (
    "/admin",
    "/admin/loops",
    "/admin/loops/new",
    "/admin/users",
    "/admin/keys",
    "/admin/webhooks",
)
# Every form the admin pages have: (path, a body that would change something).
FORMS = (
    ("/admin/loops", {"name": "sneaky", "required_approvals": "1"}),
    ("/admin/users", {"email": "eve@example.com", "name": "Eve", "role": "admin"}),
    ("/admin/keys", {"name": "sneaky", "role": "admin"}),
    ("/admin/webhooks", {"url": "https://hooks.example.com/x"}),
)


async def _counts(site: Site) -> tuple[int, int, int, int]:
    return (
        len(await loop_service.list_loops(site.ctx, None, 1000)),
        len(await user_service.list_users(site.ctx, None, 1000)),
        len(await user_service.list_keys(site.ctx, None, 1000)),
        len(await webhook_service.list_endpoints(site.ctx, None, 1000)),
    )


async def test_admin_pages_and_forms_are_for_signed_in_admins_with_the_token(site: Site) -> None:
    await site.person("root", UserRole.admin)
    await site.person("ann")
    before = await _counts(site)
    async with site.client() as nobody:
        for path in PAGES:
            r = await nobody.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
        token = csrf_of((await nobody.get("/login")).text)
        for path, body in FORMS:
            r = await nobody.post(path, data={**body, "csrf_token": token})
            assert r.status_code in (303, 403), path
            assert r.status_code != 200
    async with site.client() as reviewer:
        await sign_in(reviewer, "ann@example.com")
        token = await page_token(reviewer)
        for path in PAGES:
            assert (await reviewer.get(path)).status_code == 403, path
        for path, body in FORMS:
            r = await reviewer.post(path, data={**body, "csrf_token": token})
            assert r.status_code == 403, path
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        for path in PAGES:
            r = await admin.get(path, follow_redirects=True)
            assert r.status_code == 200, path
        for path, body in FORMS:
            for bad in ({}, {"csrf_token": "wrong"}):
                r = await admin.post(path, data={**body, **bad})
                assert r.status_code == 403, (path, bad)
            r = await admin.post(
                path,
                data={**body, "csrf_token": await page_token(admin, "/admin/loops")},
                headers={"origin": "https://evil.example.com"},
            )
            assert r.status_code == 403, path
    assert await _counts(site) == before


async def test_an_admin_makes_and_edits_a_loop(site: Site) -> None:
    await site.person("root", UserRole.admin)
    ann = await site.person("ann")
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        token = await page_token(admin, "/admin/loops/new")
        bad = await admin.post(
            "/admin/loops",
            data={"csrf_token": token, "name": " ", "required_approvals": "0"},
        )
        assert bad.status_code == 422 and 'id="err-name"' in bad.text
        r = await admin.post(
            "/admin/loops",
            data={
                "csrf_token": token,
                "name": "refunds",
                "description": "Money going out",
                "reviewers": ann,
                "required_approvals": "2",
                "default_timeout_minutes": "90",
                "allow_self_approval": "1",
            },
        )
        assert r.status_code == 303, r.text[:1000]
        [loop] = await loop_service.list_loops(site.ctx, None, 10)
        assert (loop.name, loop.reviewers, loop.required_approvals) == ("refunds", (ann,), 2)
        assert (loop.default_timeout_seconds, loop.allow_self_approval) == (5400, True)
        r = await admin.post(
            f"/admin/loops/{loop.id}",
            data={"csrf_token": token, "name": "refunds", "required_approvals": "101"},
        )
        assert r.status_code == 422 and "between 1 and 100" in r.text
        r = await admin.post(
            f"/admin/loops/{loop.id}",
            data={"csrf_token": token, "name": "refunds-eu", "required_approvals": "1"},
        )
        assert r.status_code == 303
        loop = await loop_service.get_loop(site.ctx, loop.id)
        assert (loop.name, loop.reviewers, loop.allow_self_approval) == ("refunds-eu", (), False)


async def test_saving_the_loop_form_keeps_what_the_form_does_not_show(site: Site) -> None:
    """Rules, stages, assignment and the clocks are set through the API; the form must not
    wipe them (a saved form once dropped an auto-reject rule without a word)."""
    await site.person("root", UserRole.admin)
    ann = await site.person("ann")
    loop_id = await site.loop("guarded", [ann])
    policy = {
        "rules": [{"when": "metadata.amount < 5", "action": "auto_reject"}],
        "stages": [{"name": "lead", "reviewers": [ann]}],
        "assignment": "round_robin",
        "default_timeout_seconds": 3600,
        "default_timeout_action": "reject",
        "pickup_timeout_seconds": 600,
        "reminders": [0.5],
    }
    await loop_service.update_loop(site.ctx, SYSTEM, loop_id, policy)
    before = await loop_service.get_loop(site.ctx, loop_id)
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        token = await page_token(admin, f"/admin/loops/{loop_id}")
        r = await admin.post(
            f"/admin/loops/{loop_id}",
            data={
                "csrf_token": token,
                "name": "guarded",
                "description": "now described",
                "reviewers": ann,
                "required_approvals": "1",
                "default_timeout_minutes": "60",
            },
        )
        assert r.status_code == 303, r.text[:1000]
    after = await loop_service.get_loop(site.ctx, loop_id)
    assert after.description == "now described"
    assert (after.rules, after.stages, after.assignment) == (
        before.rules,
        before.stages,
        before.assignment,
    )
    assert (after.default_timeout_action, after.pickup_timeout_seconds, after.reminders) == (
        before.default_timeout_action,
        600,
        (0.5,),
    )


async def test_keys_are_shown_once_and_revoked(site: Site) -> None:
    await site.person("root", UserRole.admin)
    await site.person("other", UserRole.admin)
    async with site.client() as admin, site.client() as other:
        await sign_in(admin, "root@example.com")
        await sign_in(other, "other@example.com")
        token = await page_token(admin, "/admin/keys")
        r = await admin.post(
            "/admin/keys", data={"csrf_token": token, "name": "zapier", "role": "requester"}
        )
        # POST/redirect/GET: the page after the form shows the key; reloading it makes none.
        assert r.status_code == 303 and r.headers["location"] == "/admin/keys"
        sealed = admin.cookies["signoff_flash"]
        assert "sk_" not in sealed and "Path=/admin" in r.headers["set-cookie"]
        await admin.get("/admin/users")  # another admin page leaves it for the keys page
        assert admin.cookies["signoff_flash"] == sealed
        assert (await admin.head("/admin/keys")).status_code == 200  # so does a HEAD
        assert admin.cookies["signoff_flash"] == sealed
        shown = await admin.get("/admin/keys")
        secret = re.search(r"(sk_[0-9a-f]{12}_[A-Za-z0-9_-]{20,})", shown.text)
        assert secret, shown.text[:3000]
        assert "signoff_flash" not in admin.cookies  # read once: the page deleted it
        reloaded = await admin.get("/admin/keys")
        assert secret.group(1) not in reloaded.text and "zapier" in reloaded.text
        assert 'id="new-key"' not in reloaded.text
        made = [k for k in await user_service.list_keys(site.ctx, None, 100) if k.name == "zapier"]
        assert len(made) == 1
        # The sealed flash is this session's alone.
        other.cookies.set("signoff_flash", sealed, path="/admin")
        assert secret.group(1) not in (await other.get("/admin/keys")).text
        async with site.client() as api:
            auth = {"Authorization": f"Bearer {secret.group(1)}"}
            assert (await api.get("/v1/requests", headers=auth)).status_code == 200
            r = await admin.post(f"/admin/keys/{made[0].id}/revoke", data={"csrf_token": token})
            assert r.status_code == 303
            assert "is revoked" in (await admin.get("/admin/keys")).text
            assert (await api.get("/v1/requests", headers=auth)).status_code == 401
        # A refused form is shown again with what was typed, and makes nothing.
        r = await admin.post(
            "/admin/keys", data={"csrf_token": token, "name": "bot", "role": "reviewer"}
        )
        assert r.status_code == 422 and 'value="bot"' in r.text
        assert len(await user_service.list_keys(site.ctx, None, 100)) == 2


async def test_users_invited_promoted_and_deactivated(site: Site) -> None:
    root = await site.person("root", UserRole.admin)
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        token = await page_token(admin, "/admin/users")
        r = await admin.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "email": "dee@example.com",
                "name": "Dee",
                "role": "reviewer",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin/users"
        shown = (await admin.get("/admin/users")).text
        assert "/invite/" in shown and "Invite link for dee@example.com" in shown
        assert "/invite/" not in (await admin.get("/admin/users")).text  # shown once
        dee = await user_service.find_user_by_email(site.ctx, "dee@example.com")
        assert dee is not None and not dee.has_password
        r = await admin.post(
            f"/admin/users/{dee.id}", data={"csrf_token": token, "action": "role", "role": "admin"}
        )
        assert r.status_code == 303
        assert "dee@example.com is now admin." in (await admin.get("/admin/users")).text
        assert (await user_service.get_user(site.ctx, dee.id)).role is UserRole.admin
        r = await admin.post(
            f"/admin/users/{dee.id}", data={"csrf_token": token, "action": "deactivate"}
        )
        assert r.status_code == 303
        assert not (await user_service.get_user(site.ctx, dee.id)).active
        # An admin cannot lock themself out: their own row offers neither, the server refuses.
        listed = (await admin.get("/admin/users")).text
        own = re.search(r'<tr data-user="root@example.com".*?</tr>', listed, re.S)
        assert own and "(you)" in own.group(0)
        assert "<select" not in own.group(0) and 'value="deactivate"' not in own.group(0)
        assert f'id="role-{dee.id}"' in listed
        for body in ({"action": "deactivate"}, {"action": "role", "role": "reviewer"}):
            r = await admin.post(f"/admin/users/{root}", data={"csrf_token": token, **body})
            assert r.status_code == 409, body
            assert 'class="flash bad"' in r.text and "Not changed: you cannot" in r.text
        me = await user_service.get_user(site.ctx, root)
        assert me.active and me.role is UserRole.admin


async def test_webhook_endpoints_and_their_delivery_log(site: Site) -> None:
    await site.person("root", UserRole.admin)
    site.ctx.check_url = None  # the URL need not resolve here
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        token = await page_token(admin, "/admin/webhooks")
        r = await admin.post(
            "/admin/webhooks",
            data={
                "csrf_token": token,
                "url": "https://hooks.example.com/a",
                "events": "request.*, nope",
            },
        )
        assert r.status_code == 422 and "nope" in r.text
        r = await admin.post(
            "/admin/webhooks",
            data={"csrf_token": token, "url": "https://hooks.example.com/a", "events": "request.*"},
        )
        assert r.status_code == 303
        assert "whsec_" in (await admin.get("/admin/webhooks")).text
        assert "whsec_" not in (await admin.get("/admin/webhooks")).text  # shown once
        [endpoint] = await webhook_service.list_endpoints(site.ctx, None, 10)
        assert endpoint.events == ("request.*",)
        r = await admin.post(
            f"/admin/webhooks/{endpoint.id}", data={"csrf_token": token, "action": "test"}
        )
        assert r.status_code == 303 and r.headers["location"] == f"/admin/webhooks/{endpoint.id}"
        assert "webhook.test" in (await admin.get(r.headers["location"])).text
        [message] = await webhook_service.deliveries(site.ctx, endpoint.id, None, None, 10)
        r = await admin.post(
            f"/admin/webhooks/{endpoint.id}",
            data={"csrf_token": token, "action": "retry", "message_id": message.id},
        )
        assert r.status_code == 303
        assert "queued to be sent again" in (await admin.get(r.headers["location"])).text
        page = await admin.get(f"/admin/webhooks/{endpoint.id}")
        assert message.id in page.text and "whsec_" not in page.text
