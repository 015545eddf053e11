"""Every page fits a phone: at 375 px wide the page itself never scrolls sideways (a wide table
stacks its rows or scrolls inside its own box), with the long names, URLs and content a real
team has."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.web.browser import LiveSite
from tests.web.support import PASSWORD

pytestmark = pytest.mark.slow
PHONE = {"width": 375, "height": 740}
LONG_EMAIL = "maximiliane.schneider-oppenheimer@customer-support.example.com"


def test_every_page_fits_a_375_px_phone(chromium: Browser, live_site: LiveSite) -> None:
    admin = live_site.admin
    boss = admin.create_user(LONG_EMAIL, "Maximiliane Schneider-Oppenheimer", password=PASSWORD)
    admin.update_user(boss.id, role="admin")
    ann = live_site.reviewer("annabelle")
    loop = admin.create_loop(
        "Customer support replies drafted by the agent",
        reviewers=[boss.id, ann.id],
        description="Replies an agent drafted for tickets that mention refunds or legal words",
        required_approvals=2,
    )
    admin.create_api_key("zapier-refund-workflow-production-eu-west", role="requester")
    admin.create_api_key("annabelle's reviewer key", role="reviewer", user_id=ann.id)
    hook = admin.create_webhook(
        "http://127.0.0.1:9/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        events=["request.completed", "request.cancelled", "request.created"],
        loop_id=loop.id,
        description="Tell the CRM about every decision",
    )
    admin.test_webhook(hook.id)
    request = admin.create_request(
        loop.id,
        {
            "action": "wire_transfer",
            "iban": "DE89370400440532013000DE89370400440532013000",
            "memo": "x" * 120,
        },
        content_type="json",
        title="Wire 12,500 EUR to a supplier we have never paid before, today",
        priority="urgent",
        requested_by="finance-bot-with-a-rather-long-identifier",
        context={"supplier": "ACME Industrial Supplies and Logistics GmbH & Co. KG"},
        metadata={"ticket_url": "https://support.example.com/tickets/5521?view=full&tab=h"},
        ai_analysis={"confidence": 0.41, "risk_score": 0.86, "flags": ["new payee"]},
        timeout_seconds=3600,
    )
    admin.create_request(loop.id, "a" * 300, title="An unbroken line of text")
    pages = [
        "/",
        f"/requests/{request.id}",
        "/admin/loops",
        "/admin/loops/new",
        f"/admin/loops/{loop.id}",
        "/admin/users",
        "/admin/keys",
        "/admin/webhooks",
        f"/admin/webhooks/{hook.id}",
    ]
    context = chromium.new_context(base_url=live_site.url, viewport=PHONE)  # type: ignore[arg-type]
    try:
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(LONG_EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
        widths = {}
        for path in pages:
            page.goto(path)
            page.wait_for_load_state("load")
            widths[path] = page.evaluate("document.scrollingElement.scrollWidth")
        too_wide = {path: width for path, width in widths.items() if width > PHONE["width"]}
        assert not too_wide, too_wide
        # What a table holds is still there to read and use on a phone.
        page.goto("/admin/users")
        expect(page.get_by_role("button", name=f"Deactivate {ann.email}")).to_be_visible()
        page.goto("/admin/keys")
        expect(page.get_by_role("button", name="Revoke zapier-refund-workflow-production-eu-west"))
        page.goto("/")
        expect(page.locator(f'tr[data-request="{request.id}"] a.open')).to_be_visible()
    finally:
        context.close()
