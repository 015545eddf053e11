"""A loop's admin page in a real browser against a real `signoff serve`: edit a rule, try a
request that makes it fire, read the rule and the timeline on the page; then the API's view."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.browser import LiveSite
from tests.web.support import PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def page(chromium: Browser, live_site: LiveSite) -> Iterator[Page]:
    context = chromium.new_context(base_url=live_site.url)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_an_admin_edits_a_rule_and_tries_a_request_that_fires_it(
    page: Page, live_site: LiveSite
) -> None:
    boss = live_site.reviewer("boss")
    live_site.admin.update_user(boss.id, role="admin")
    ann = live_site.reviewer("ann")
    loop_id = live_site.loop(ann)
    page.goto("/login")
    page.get_by_label("Email").fill(boss.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/admin/loops/{loop_id}")
    expect(page.locator("#rules-list")).to_contain_text("No rules")

    # A rule with a CEL mistake is refused, with where the mistake is.
    page.get_by_text("Edit rules as JSON").click()
    rules = page.get_by_label("Rules, as JSON")
    rules.fill('[{"when": "metadata.amount >", "action": "require_approvals", "approvals": 2}]')
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#err-rules")).to_contain_text("rule 1, when: line 1, column ")
    expect(page.locator("#rules-list")).to_contain_text("No rules")

    rule = {"when": "metadata.amount > 1000", "action": "require_approvals", "approvals": 2}
    page.get_by_label("Rules, as JSON").fill(json.dumps([rule]))
    page.get_by_label("Default timeout, in minutes").fill("120")
    page.get_by_text("Edit reminders as JSON").click()
    page.get_by_label("Reminders, as JSON").fill("[0.5]")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#flash")).to_have_text("Loop saved.")
    expect(page.locator("#rules-list")).to_have_text(
        "when metadata.amount > 1000 → require 2 approvals"
    )

    page.get_by_label("Title").fill("Pay a supplier")
    page.get_by_label("Metadata, as a JSON object").fill('{"amount": 5000}')
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#sim-outcome")).to_contain_text("2 approvals needed")
    expect(page.locator("#sim-rules")).to_contain_text(
        "Rule 1: when metadata.amount > 1000 → require 2 approvals"
    )
    expect(page.locator("#sim-reviewers")).to_have_text(re.compile(r"^Ann \d+$"))
    timeline = page.locator("#sim-timeline li")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(1)).to_have_text(
        "after 1 h The reviewers are reminded (50 % of the time to decide)."
    )
    expect(timeline.nth(2)).to_have_text("after 2 h Timeout: it expires (timed out, no decision).")

    saved = httpx.get(
        f"{live_site.url}/v1/loops/{loop_id}",
        headers={"Authorization": f"Bearer {live_site.server.first_key()}"},
        timeout=10,
    ).json()
    assert [{k: v for k, v in r.items() if v is not None} for r in saved["rules"]] == [rule]
    assert (saved["reminders"], saved["default_timeout_seconds"]) == ([0.5], 7200)
    requests = httpx.get(
        f"{live_site.url}/v1/requests",
        params={"loop_id": loop_id},
        headers={"Authorization": f"Bearer {live_site.server.first_key()}"},
        timeout=10,
    ).json()
    assert requests["data"] == []  # trying created nothing
