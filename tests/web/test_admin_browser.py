"""Review links, accounts and admin pages in a real browser against a real `signoff serve`.
Each test then reads through the API what a workflow (or a script with the new key) gets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from signoff.client import Client
from tests.integration.server import serve, signoff_env
from tests.web.browser import LiveSite, Reviewer
from tests.web.support import PASSWORD

pytestmark = pytest.mark.slow
NEW_PASSWORD = "a passphrase of my own"


@pytest.fixture
def new_context(chromium: Browser, live_site: LiveSite) -> Iterator[Any]:
    """`new_context()`: a fresh browser with no session, closed after the test."""
    made: list[BrowserContext] = []

    def make(color_scheme: str = "light") -> BrowserContext:
        context = chromium.new_context(base_url=live_site.url, color_scheme=color_scheme)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def _api(live_site: LiveSite, method: str, path: str, **kw: Any) -> httpx.Response:
    key = live_site.server.first_key()
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.request(method, live_site.url + path, headers=headers, timeout=10, **kw)


def _review_link(live_site: LiveSite, request_id: str, **reviewer: str) -> str:
    r = _api(live_site, "POST", f"/v1/requests/{request_id}/review-links", json=reviewer)
    assert r.status_code == 201, r.text
    return str(r.json()["url"])


def _sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


def _admin(live_site: LiveSite) -> Reviewer:
    reviewer = live_site.reviewer("boss")
    live_site.admin.update_user(reviewer.id, role="admin")
    return reviewer


def test_deciding_through_a_review_link(new_context: Any, live_site: LiveSite) -> None:
    loop = live_site.loop(live_site.reviewer())
    created = live_site.admin.create_request(
        loop, "Refund 120 EUR to order 5521", title="Refund via link"
    )
    url = _review_link(live_site, created.id, email="dee@example.com", name="Dee Outside")
    page = new_context().new_page()
    page.goto(url)
    expect(page.get_by_role("heading", name="Refund via link")).to_be_visible()
    expect(page.locator("#link-note")).to_contain_text("Dee Outside (dee@example.com)")
    expect(page.locator("#content pre")).to_have_text("Refund 120 EUR to order 5521")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.get_by_role("button", name="Reject").click()  # feedback is missing: refused
    expect(page.locator("#err-feedback")).to_be_visible()
    assert live_site.admin.get_response(created.id).status == "pending"
    page.get_by_label("Feedback").fill("Checked the order: fine.")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#done")).to_have_text("Thank you: the request is approved.")
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    answer = live_site.admin.get_response(created.id)
    assert (answer.decision, answer.feedback) == ("approved", "Checked the order: fine.")
    [voter] = answer.decided_by
    assert (voter["type"], voter["email"], voter["name"]) == (
        "link",
        "dee@example.com",
        "Dee Outside",
    )
    # The link is spent: opening it again shows so and offers nothing to decide.
    page.goto(url)
    expect(page.get_by_role("heading", name="This review link was used")).to_be_visible()


def test_a_scanner_opening_a_review_link_decides_nothing(
    new_context: Any, live_site: LiveSite
) -> None:
    loop = live_site.loop(live_site.reviewer())
    created = live_site.admin.create_request(loop, "Delete the staging database", title="Drop db")
    url = _review_link(live_site, created.id, email="ops@example.com", name="Ops")
    scanner = new_context()
    for method in ("get", "head"):  # what mail scanners and unfurlers send, cookies or not
        response = getattr(scanner.request, method)(url)
        assert response.status == 200, method
    preview = scanner.new_page()
    preview.goto(url)  # a browser that renders the page (and runs its script) but clicks nothing
    expect(preview.get_by_role("heading", name="Drop db")).to_be_visible()
    preview.wait_for_timeout(500)
    preview.close()
    # A cross-site form post without the page's token is refused.
    response = scanner.request.post(url, form={"decision": "approve"})
    assert response.status == 403
    assert live_site.admin.get_response(created.id).status == "pending"
    # The link still works for its reviewer afterwards.
    page = new_context().new_page()
    page.goto(url)
    page.get_by_label("Feedback").fill("Not today.")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#done")).to_have_text("Thank you: the request is rejected.")
    assert live_site.admin.get_response(created.id).decision == "rejected"


def test_an_admin_creates_a_loop_and_a_key(new_context: Any, live_site: LiveSite) -> None:
    boss = _admin(live_site)
    ann = live_site.reviewer("ann")
    page = new_context().new_page()
    _sign_in(page, boss.email)
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Loops")).to_be_visible()
    page.get_by_role("link", name="New loop").click()
    name = f"payouts-{ann.id[-6:]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill("Money leaving the company")
    page.get_by_label(re.compile(re.escape(ann.email))).check()
    page.get_by_label("Approvals needed").fill("0")
    page.get_by_role("button", name="Create loop").click()
    expect(page.locator("#err-required_approvals")).to_have_text("must be between 1 and 100")
    page.get_by_label("Approvals needed").fill("2")
    page.get_by_label("Default timeout, in minutes").fill("120")
    page.get_by_role("button", name="Create loop").click()
    expect(page.locator("#flash")).to_have_text("Loop saved.")
    expect(page.locator("#loops")).to_contain_text(name)
    [loop] = [lp for lp in live_site.admin.iter_loops() if lp.name == name]
    assert (loop.reviewers, loop.required_approvals) == ([ann.id], 2)
    assert loop.default_timeout_seconds == 7200

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name", exact=False).first.fill("zapier payouts")
    page.get_by_label("Role").select_option("requester")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#key-secret").input_value()
    assert secret.startswith("sk_")
    page.reload()  # the page after the form: a reload shows the key no more and makes none
    expect(page.locator("#keys")).to_contain_text("zapier payouts")
    expect(page.locator("#key-secret")).to_have_count(0)
    assert secret not in page.content()
    keys = _api(live_site, "GET", "/v1/api-keys", params={"limit": 500}).json()["data"]
    assert [k["name"] for k in keys].count("zapier payouts") == 1
    made = httpx.post(
        f"{live_site.url}/v1/loops/{loop.id}/requests",
        json={"content": "Pay 10 EUR"},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    page.once("dialog", lambda dialog: dialog.dismiss())  # it asks first: no
    page.get_by_role("button", name="Revoke zapier payouts").click()
    expect(page.get_by_role("button", name="Revoke zapier payouts")).to_be_visible()
    assert (
        httpx.get(
            f"{live_site.url}/v1/requests",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        ).status_code
        == 200
    )
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke zapier payouts").click()
    expect(page.locator("#flash")).to_contain_text("is revoked")
    again = httpx.get(
        f"{live_site.url}/v1/requests", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert again.status_code == 401


def test_invite_then_set_a_password_then_sign_in(new_context: Any, live_site: LiveSite) -> None:
    boss = _admin(live_site)
    page = new_context().new_page()
    _sign_in(page, boss.email)
    page.goto("/admin/users")
    email = f"newbie-{boss.id[-6:].lower()}@example.com"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Name", exact=True).fill("Newbie")
    page.get_by_role("button", name="Make an invite link").click()
    invite = page.locator("#invite-url").input_value()
    assert "/invite/" in invite
    page.reload()  # shows the link no more, and makes no new one (that would void this one)
    expect(page.locator("#invite-url")).to_have_count(0)
    expect(page.locator("#users")).to_contain_text(email)

    guest = new_context().new_page()
    guest.goto(invite)
    expect(guest.get_by_role("heading", name="Welcome to Signoff")).to_be_visible()
    guest.locator("#password").fill(NEW_PASSWORD)
    guest.get_by_label("The password again").fill(NEW_PASSWORD)
    guest.get_by_role("button", name="Set my password").click()
    expect(guest.get_by_role("heading", name="Inbox")).to_be_visible()
    guest.get_by_role("button", name="Sign out").click()
    guest.goto(invite)  # single use
    expect(guest.get_by_role("heading", name="This link does not work")).to_be_visible()
    _sign_in(guest, email, NEW_PASSWORD)
    [user] = [u for u in live_site.admin.iter_users() if u.email == email]
    assert user.has_password and user.role == "reviewer"


def test_the_setup_link_printed_at_first_start_makes_an_admin(
    new_context: Any, tmp_path: Path
) -> None:
    env = signoff_env(data_dir=str(tmp_path / "data"))
    with serve(env, tmp_path / "logs") as server:
        found = re.search(r"http://\S+/setup/\S+", server.stdout)
        assert found, server.stdout
        link = found.group(0)
        page = new_context().new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name="Set up Signoff")).to_be_visible()
        page.get_by_label("Email").fill("first-admin@example.com")
        page.get_by_label("Name").fill("First Admin")
        page.locator("#password").fill(NEW_PASSWORD)
        page.get_by_label("The password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Create the admin account").click()
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        expect(page.locator("#users")).to_contain_text("first-admin@example.com")
        page.goto(link)
        expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
        with Client(server.url, server.first_key() or "") as admin:
            [user] = [u for u in admin.iter_users() if u.email == "first-admin@example.com"]
            assert user.role == "admin" and user.has_password
    # A restart prints no setup link once an admin can sign in.
    with serve(env, tmp_path / "logs") as again:
        assert "/setup/" not in again.stdout, again.stdout
