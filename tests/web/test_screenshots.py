"""Screenshots of the main pages, light and dark, taken from a real server with sample data.

They land in a temporary folder; with UPDATE_SCREENSHOTS=1 they replace docs/screenshots/*.png
(the README shows those). The test also checks each page rendered what it should.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from signoff.client import Client
from tests.integration.server import serve, signoff_env
from tests.web.support import PASSWORD

pytestmark = pytest.mark.slow
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

REPLY = """Hi Maria,

Thanks for your patience. I have refunded the 49 EUR for order #5521 to your card;
it shows in 3-5 business days.

Best,
The Acme support team"""
REPLY_V2 = """Hi Maria,

Sorry for the trouble with order #5521. I have refunded the full 49 EUR to your card;
it shows in 3-5 business days, and here is a 10 % code for next time: SORRY10.

Best,
The Acme support team"""


def _sample(admin: Client, url: str, key: str) -> dict[str, str]:
    """A small team's day: loops, reviewers, requests of every kind; answers useful ids."""
    ann = admin.create_user("ann@acme.example", "Ann Reviewer", role="reviewer", password=PASSWORD)
    boss = admin.create_user("lee@acme.example", "Lee Admin", role="admin", password=PASSWORD)
    support = admin.create_loop(
        "Customer support", reviewers=[ann.id, boss.id], description="Replies an agent drafted"
    )
    payments = admin.create_loop("Payments", reviewers=[ann.id, boss.id], required_approvals=2)
    social = admin.create_loop("Social media", reviewers=[ann.id, boss.id])
    first = admin.create_request(
        support.id,
        REPLY,
        title="Reply to Maria about a late refund",
        requested_by="support-agent",
        context={"ticket": 5521, "customer": "Maria Lopez", "plan": "pro"},
        metadata={"ticket_id": "T-5521", "channel": "email"},
        ai_analysis={"confidence": 0.62, "risk_score": 0.3, "flags": ["mentions money"]},
    )
    admin.decide(first.id, "needs_changes", feedback="Apologise first, and offer a discount code.")
    revision = admin.create_request(
        support.id,
        REPLY_V2,
        title="Reply to Maria about a late refund (round 2)",
        requested_by="support-agent",
        previous_request_id=first.id,
        context={"ticket": 5521, "customer": "Maria Lopez", "plan": "pro"},
        metadata={"ticket_id": "T-5521", "channel": "email"},
        ai_analysis={"confidence": 0.91, "risk_score": 0.12},
        timeout_seconds=4 * 3600,
    )
    risky = admin.create_request(
        payments.id,
        {"action": "wire_transfer", "amount": 12500, "currency": "EUR", "iban": "DE89…3000"},
        content_type="json",
        title="Wire 12,500 EUR to a new supplier",
        priority="urgent",
        requested_by="finance-bot",
        ai_analysis={
            "confidence": 0.41,
            "risk_score": 0.86,
            "flags": ["new payee", "above usual amount"],
        },
        timeout_seconds=3600,
    )
    admin.create_request(
        support.id,
        "Your password reset link is below.",
        title="Password reset reply",
        priority="low",
        requested_by="support-agent",
    )
    admin.create_request(
        social.id,
        "We're hiring! Join our support team in Lisbon.",
        title="Post a job ad on LinkedIn",
        priority="high",
        requested_by="marketing-agent",
        response={"type": "choice", "options": ["LinkedIn", "Mastodon", "Both"]},
    )
    link = httpx.post(
        f"{url}/v1/requests/{risky.id}/review-links",
        json={"email": "cfo@acme.example", "name": "Sam, the CFO"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ).json()["url"]
    return {
        "revision": revision.id,
        "risky": risky.id,
        "link": link,
        "boss": boss.email,
        "ann": ann.id,
        "payments": payments.id,
    }


def _route_payments(admin: Client, url: str, key: str, ids: dict[str, str]) -> None:
    """Rules, stages and clocks for the loop page's picture (set after the other pictures,
    which they would change)."""
    treasury = admin.create_loop("Treasury", reviewers=[ids["ann"]])
    policy = {
        "assignment": "least_loaded",
        "rules": [
            {"when": "metadata.amount < 100", "action": "auto_approve"},
            {"when": "ai_analysis.risk_score > 0.8", "action": "set_priority",
             "priority": "urgent"},
            {"when": '"new payee" in ai_analysis.flags', "action": "set_timeout",
             "timeout_seconds": 4 * 3600},
            {"when": 'metadata.currency != "EUR"', "action": "route_to", "loop_id": treasury.id},
        ],
        "stages": [
            {"name": "team lead", "reviewers": [ids["ann"]], "timeout_seconds": 3600},
            {"name": "finance", "when": "metadata.amount > 10000", "required_approvals": 2},
        ],
        "pickup_timeout_seconds": 900,
        "reminders": [0.5, 0.9],
        "escalation": [{"after_seconds": 2 * 3600, "route_to": treasury.id}],
    }  # fmt: skip
    r = httpx.patch(
        f"{url}/v1/loops/{ids['payments']}",
        json=policy,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _shot(page: Page, folder: Path, name: str) -> None:
    page.wait_for_timeout(150)  # the live-update script settles
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_screenshots_of_the_main_pages(chromium: Browser, tmp_path: Path) -> None:
    folder = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    env = signoff_env(data_dir=str(tmp_path / "data"))
    with serve(env, tmp_path / "logs") as server:
        key = server.first_key() or ""
        with Client(server.url, key) as admin:
            ids = _sample(admin, server.url, key)
        for scheme in ("light", "dark"):
            context = chromium.new_context(
                base_url=server.url,
                color_scheme=scheme,  # type: ignore[arg-type]
                viewport={"width": 1280, "height": 800},
            )
            try:
                page = context.new_page()
                page.goto(ids["link"])
                expect(page.get_by_role("heading", name="Wire 12,500 EUR")).to_be_visible()
                _shot(page, folder, f"review-link-{scheme}")
                _sign_in(page, ids["boss"])
                expect(page.locator("#inbox-list")).to_contain_text("Wire 12,500 EUR")
                _shot(page, folder, f"inbox-{scheme}")
                page.goto(f"/requests/{ids['revision']}")
                expect(page.locator("#thread")).to_be_visible()
                _shot(page, folder, f"review-revision-{scheme}")
                page.goto(f"/requests/{ids['risky']}")
                expect(page.locator("#ai")).to_contain_text("new payee")
                _shot(page, folder, f"review-{scheme}")
                page.goto("/admin/loops")
                expect(page.locator("#loops")).to_contain_text("Payments")
                _shot(page, folder, f"admin-loops-{scheme}")
                if scheme == "light":
                    page.set_viewport_size({"width": 390, "height": 844})
                    page.goto("/")
                    _shot(page, folder, "inbox-phone")
            finally:
                context.close()
        with Client(server.url, key) as admin:
            _route_payments(admin, server.url, key, ids)
        for scheme in ("light", "dark"):
            context = chromium.new_context(
                base_url=server.url,
                color_scheme=scheme,  # type: ignore[arg-type]
                viewport={"width": 1280, "height": 800},
            )
            try:
                page = context.new_page()
                _sign_in(page, ids["boss"])
                page.goto(f"/admin/loops/{ids['payments']}")
                page.get_by_label("Title").fill("Wire 12,500 EUR to a new supplier")
                page.get_by_label("Metadata, as a JSON object").fill(
                    '{"amount": 12500, "currency": "EUR"}'
                )
                page.get_by_label("AI analysis, as a JSON object").fill(
                    '{"risk_score": 0.86, "flags": ["new payee"]}'
                )
                page.get_by_role("button", name="Try it").click()
                expect(page.locator("#sim-timeline")).to_contain_text("Timeout: it expires")
                page.evaluate("window.scrollTo(0, 0)")
                _shot(page, folder, f"admin-loop-{scheme}")
            finally:
                context.close()
    shots = sorted(p.name for p in folder.glob("*.png"))
    assert len(shots) >= 13, shots
