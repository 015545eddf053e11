"""/setup/{token} and /invite/{token} over HTTP: one use each, CSRF-checked, then signed in."""

from __future__ import annotations

from signoff.domain.model import SYSTEM, UserRole
from signoff.service import accounts
from signoff.service.users import create_user, find_user_by_email, update_user
from tests.web.conftest import Site
from tests.web.support import PASSWORD, csrf_of, sign_in
from tests.web.test_review_link_pages import meta_token

NEW_PASSWORD = "a brand new passphrase"


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


async def test_the_setup_link_makes_the_first_admin_and_signs_them_in(site: Site) -> None:
    issued = await accounts.start_setup(site.ctx)
    assert issued is not None
    path = _path(issued.url)
    async with site.client() as browser:
        form = await browser.get(path)
        assert form.status_code == 200 and 'name="email"' in form.text
        token = csrf_of(form.text)
        r = await browser.post(path, data={"email": "root@example.com", "name": "Root"})
        assert r.status_code == 403  # no CSRF token
        data = {"csrf_token": token, "email": "root@example.com", "name": "Root"}
        r = await browser.post(path, data={**data, "password": "short", "password2": "short"})
        assert r.status_code == 422 and 'id="err-password"' in r.text
        r = await browser.post(
            path, data={**data, "password": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
        )
        assert r.status_code == 422 and 'id="err-password2"' in r.text
        r = await browser.post(
            path, data={**data, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin/users"
        assert (await browser.get("/admin/users")).status_code == 200  # signed in, as admin
    root = await find_user_by_email(site.ctx, "root@example.com")
    assert root is not None and root.role is UserRole.admin
    async with site.client() as late:
        r = await late.get(path)
        assert r.status_code == 410 and "already used" in r.text
    assert await accounts.start_setup(site.ctx) is None


async def test_an_invite_sets_the_password_once(site: Site) -> None:
    dee = await create_user(site.ctx, SYSTEM, "dee@example.com", "Dee", UserRole.reviewer, None)
    path = _path((await accounts.invite_user(site.ctx, SYSTEM, dee.id)).url)
    async with site.client() as browser:
        form = await browser.get(path)
        assert form.status_code == 200 and "dee@example.com" in form.text
        data = {"csrf_token": csrf_of(form.text), "password": PASSWORD, "password2": PASSWORD}
        r = await browser.post(path, data=data)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await browser.get("/")).status_code == 200
    async with site.client() as browser:
        r = await browser.get(path)
        assert r.status_code == 410 and "already used" in r.text
        again = {**data, "csrf_token": meta_token(r.text), "password": "another one, longer"}
        assert (await browser.post(path, data=again)).status_code == 410
        assert (await browser.get(path + "x")).status_code == 404
    async with site.client() as browser:
        assert (await sign_in(browser, "dee@example.com", PASSWORD)).status_code == 303


async def test_a_deactivated_user_loses_their_session_and_invite(site: Site) -> None:
    dee = await create_user(site.ctx, SYSTEM, "dee@example.com", "Dee", UserRole.reviewer, None)
    first = _path((await accounts.invite_user(site.ctx, SYSTEM, dee.id)).url)
    second = _path((await accounts.invite_user(site.ctx, SYSTEM, dee.id)).url)
    async with site.client() as browser:
        assert (await browser.get(first)).status_code == 410  # replaced by the second
        form = await browser.get(second)
        data = {"csrf_token": csrf_of(form.text), "password": PASSWORD, "password2": PASSWORD}
        assert (await browser.post(second, data=data)).status_code == 303
        assert (await browser.get("/")).status_code == 200
        await update_user(site.ctx, SYSTEM, dee.id, {"active": False})
        r = await browser.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    third = _path(
        (await accounts.invite_user(site.ctx, SYSTEM, (await _reactivate(site, dee.id)))).url
    )
    await update_user(site.ctx, SYSTEM, dee.id, {"active": False})
    async with site.client() as browser:
        assert (await browser.get(third)).status_code == 410


async def _reactivate(site: Site, user_id: str) -> str:
    await update_user(site.ctx, SYSTEM, user_id, {"active": True})
    return user_id


async def test_a_bad_account_link_says_what_kind_of_link_it_was(site: Site) -> None:
    async with site.client() as browser:
        for path in ("/invite/garbage", "/setup/garbage"):
            page = await browser.get(path)
            assert page.status_code in (404, 410), path
            assert "This link does not work" in page.text
            assert "Set-up and invite links work once" in page.text
            assert "review links" not in page.text, path
