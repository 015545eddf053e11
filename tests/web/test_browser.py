"""What a reviewer does, in a real browser against a real server. Each test then reads what
the workflow gets through the API (GET /v1/requests/{id}/response)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.browser import LiveSite, Reviewer
from tests.web.support import PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def open_page(chromium: Browser, live_site: LiveSite) -> Iterator[Any]:
    """`open_page(reviewer)`: a fresh browser context signed in as that reviewer."""
    contexts = []
    refused: list[str] = []  # what the Content-Security-Policy blocked: none of our own

    def open_(reviewer: Reviewer, *, color_scheme: str = "light") -> Page:
        context = chromium.new_context(base_url=live_site.url, color_scheme=color_scheme)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto("/")
        expect(page).to_have_url(f"{live_site.url}/login")
        page.get_by_label("Email").fill(reviewer.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not refused


def test_sign_in_is_refused_with_a_wrong_password_then_the_inbox_shows(
    chromium: Browser, live_site: LiveSite
) -> None:
    ann = live_site.reviewer()
    loop = live_site.loop(ann)
    created = live_site.admin.create_request(loop, "Send the refund", title="Refund #1")
    context = chromium.new_context(base_url=live_site.url)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(ann.email)
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#login-error")).to_have_text("The email or the password is wrong.")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        row = page.locator(f'tr[data-request="{created.id}"]')
        expect(row).to_contain_text("Refund #1")
    finally:
        context.close()
    assert live_site.admin.get_response(created.id).status == "pending"


def test_approve_with_an_edit_shows_the_diff_first(open_page: Any, live_site: LiveSite) -> None:
    ann = live_site.reviewer()
    loop = live_site.loop(ann)
    created = live_site.admin.create_request(
        loop, "Dear customer,\nyour refund is 50 EUR.\nRegards", title="Refund mail"
    )
    page = open_page(ann)
    page.get_by_role("link", name="Refund mail").click()
    expect(page.get_by_role("heading", name="Refund mail")).to_be_visible()
    expect(page.locator("#content pre")).to_have_text(
        "Dear customer,\nyour refund is 50 EUR.\nRegards"
    )
    page.keyboard.press("e")
    editor = page.get_by_label("Content to approve")
    expect(editor).to_be_focused()
    editor.fill("Dear customer,\nyour refund is 55 EUR.\nRegards")
    page.get_by_role("button", name="Approve", exact=True).click()
    diff = page.locator("#edit-diff")
    expect(diff.locator(".del")).to_have_text("-your refund is 50 EUR.")
    expect(diff.locator(".ins")).to_have_text("+your refund is 55 EUR.")
    assert live_site.admin.get_response(created.id).status == "pending"  # not yet
    page.get_by_role("button", name="Approve with these edits").click()
    expect(page.locator("#banner")).to_have_text("Approved.")
    answer = live_site.admin.get_response(created.id)
    assert answer.decision == "approved" and answer.edited
    assert answer.content == "Dear customer,\nyour refund is 55 EUR.\nRegards"


def test_reject_needs_feedback(open_page: Any, live_site: LiveSite) -> None:
    ann = live_site.reviewer()
    loop = live_site.loop(ann)
    created = live_site.admin.create_request(loop, "rm -rf /", title="Cleanup")
    page = open_page(ann)
    page.goto(f"/requests/{created.id}")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#err-feedback")).to_have_text(
        "Write some feedback first: a rejection or a request for changes needs it."
    )
    page.get_by_label("Feedback").fill("Far too broad.")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#banner")).to_have_text("Rejected.")
    answer = live_site.admin.get_response(created.id)
    assert answer.decision == "rejected" and answer.feedback == "Far too broad."


def test_answer_a_choice_and_a_form_with_a_refused_answer(
    open_page: Any, live_site: LiveSite
) -> None:
    ann = live_site.reviewer()
    loop = live_site.loop(ann)
    choice = live_site.admin.create_request(
        loop,
        "Which plan?",
        title="Pick a plan",
        response={"type": "choice", "options": ["basic", "pro", "team"]},
    )
    schema = {
        "type": "object",
        "properties": {
            "amount": {"type": "integer", "maximum": 1000, "title": "Amount"},
            "currency": {"enum": ["EUR", "USD"], "title": "Currency"},
            "urgent": {"type": "boolean", "title": "Urgent"},
            "reasons": {"type": "array", "items": {"enum": ["late", "broken", "other"]}},
            "note": {"type": "string", "title": "Note"},
        },
        "required": ["amount", "currency"],
    }
    form = live_site.admin.create_request(
        loop, "Refund?", title="Refund form", response={"type": "form", "schema": schema}
    )
    page = open_page(ann)
    page.goto(f"/requests/{choice.id}")
    page.get_by_role("button", name="Submit answer").click()  # nothing picked
    expect(page.locator("#err-response_data")).to_have_text("Pick one of the choices.")
    page.get_by_label("pro").check()
    page.get_by_role("button", name="Submit answer").click()
    expect(page.locator("#banner")).to_have_text("Approved.")
    assert live_site.admin.get_response(choice.id).response_data == "pro"

    page.goto(f"/requests/{form.id}")
    page.get_by_label("Amount").fill("5000")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_label("Urgent").check()
    page.get_by_label("broken").check()
    page.get_by_role("button", name="Submit answer").click()
    expect(page.locator("#err-f-amount")).to_have_text("At most 1000.")
    expect(page.get_by_label("Amount")).to_have_value("5000")  # what was typed stays
    expect(page.get_by_label("broken")).to_be_checked()  # and what was picked
    assert live_site.admin.get_response(form.id).status == "pending"
    page.get_by_label("Amount").fill("500")
    page.get_by_role("button", name="Submit answer").click()
    expect(page.locator("#banner")).to_have_text("Approved.")
    answer = live_site.admin.get_response(form.id)
    assert answer.response_data == {
        "amount": 500,
        "currency": "EUR",
        "urgent": True,
        "reasons": ["broken"],
    }


def test_batch_approve_reports_each_request(open_page: Any, live_site: LiveSite) -> None:
    ann = live_site.reviewer()
    loop = live_site.loop(ann)
    plain = [live_site.admin.create_request(loop, f"post {i}", title=f"Post {i}") for i in range(3)]
    asks = live_site.admin.create_request(
        loop, "which?", title="Needs a choice", response={"type": "choice", "options": ["a", "b"]}
    )
    page = open_page(ann)
    for r in [*plain, asks]:
        page.locator(f"#sel-{r.id}").check()
    expect(page.locator("#batch-count")).to_have_text("4 selected.")
    page.get_by_label("Feedback (needed to reject)").fill("Looks fine.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator(".flash")).to_contain_text("3 of 4 decided; 1 could not be")
    expect(page.locator(f'#batch-results tr[data-request="{asks.id}"]')).to_contain_text(
        "it asks for an answer (a choice, a text or a form): open it to answer"
    )
    expect(page.locator(f'#batch-results tr[data-request="{asks.id}"]')).to_contain_text(
        "Needs a choice"  # its title, as for the ones decided
    )
    for r in plain:
        answer = live_site.admin.get_response(r.id)
        assert answer.decision == "approved" and answer.feedback == "Looks fine."
    assert live_site.admin.get_response(asks.id).status == "pending"
    events = live_site.admin.request_events(plain[0].id)
    votes = [e for e in events if e.type == "request.vote"]
    assert len(votes) == 1 and votes[0].actor["email"] == ann.email


def test_a_review_session_by_keyboard_alone(open_page: Any, live_site: LiveSite) -> None:
    ann = live_site.reviewer()
    loop = live_site.loop(ann)
    first = live_site.admin.create_request(loop, "one", title="First", priority="high")
    second = live_site.admin.create_request(loop, "two", title="Second")
    page = open_page(ann)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(page.locator(f'tr[data-request="{first.id}"]')).to_have_class("current")
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="First")).to_be_visible()
    page.keyboard.press("u")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.keyboard.press("s")
    expect(page.get_by_role("heading", name="First")).to_be_visible()
    page.keyboard.press("a")
    expect(page.locator("#confirm")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Second")).to_be_visible()
    expect(page.locator("#banner")).to_have_text("Approved.")
    page.keyboard.press("r")
    expect(page.locator("#confirm-feedback")).to_be_focused()
    page.keyboard.type("Not this one.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#session-done")).to_be_visible()
    assert live_site.admin.get_response(first.id).decision == "approved"
    answer = live_site.admin.get_response(second.id)
    assert answer.decision == "rejected" and answer.feedback == "Not this one."


def test_a_request_decided_elsewhere_leaves_the_inbox_and_stops_the_page(
    open_page: Any, live_site: LiveSite
) -> None:
    ann, bob = live_site.reviewer(), live_site.reviewer()
    loop = live_site.loop(ann, bob)
    one = live_site.admin.create_request(loop, "one", title="Shared one")
    two = live_site.admin.create_request(loop, "two", title="Shared two")
    ann_inbox = open_page(ann)
    ann_review = open_page(ann)
    ann_review.goto(f"/requests/{two.id}")
    expect(ann_review.get_by_role("button", name="Approve", exact=True)).to_be_enabled()
    expect(ann_inbox.locator(f'tr[data-request="{one.id}"]')).to_be_visible()
    bob_page = open_page(bob)
    bob_page.goto(f"/requests/{one.id}")
    bob_page.get_by_role("button", name="Approve", exact=True).click()
    expect(bob_page.locator("#banner")).to_have_text("Approved.")
    expect(ann_inbox.locator(f'tr[data-request="{one.id}"]')).to_have_count(0)
    expect(ann_inbox.locator("#live-note")).to_contain_text("1 decided elsewhere")
    # A new request arrives while Ann looks: it shows up without a reload.
    three = live_site.admin.create_request(loop, "three", title="Shared three")
    expect(ann_inbox.locator(f'tr[data-request="{three.id}"]')).to_be_visible()
    # Bob decides the one Ann has open: her page says so and its buttons stop.
    bob_page.goto(f"/requests/{two.id}")
    bob_page.get_by_label("Feedback").fill("No.")
    bob_page.get_by_role("button", name="Reject").click()
    expect(ann_review.locator("#live-decided")).to_contain_text("decided elsewhere (rejected")
    expect(ann_review.get_by_role("button", name="Approve", exact=True)).to_be_disabled()
    assert live_site.admin.get_response(one.id).decision == "approved"
    answer = live_site.admin.get_response(two.id)
    assert answer.decision == "rejected" and answer.decided_by[0]["email"] == bob.email


def test_quorum_progress_and_votes_show_live_on_an_open_page(
    open_page: Any, live_site: LiveSite
) -> None:
    ann, bob = live_site.reviewer(), live_site.reviewer()
    loop = live_site.loop(ann, bob, approvals=2)
    created = live_site.admin.create_request(loop, "Pay the invoice", title="Two keys")
    ann_page = open_page(ann)
    ann_page.goto(f"/requests/{created.id}")
    expect(ann_page.locator("#progress")).to_have_text("0 of 2 approvals")
    expect(ann_page.locator("#votes-box")).to_have_text("No votes yet.")
    bob_page = open_page(bob)
    bob_page.goto(f"/requests/{created.id}")
    bob_page.get_by_label("Feedback").fill("Invoice matches the order.")
    bob_page.get_by_role("button", name="Approve", exact=True).click()
    expect(bob_page.locator("#banner")).to_have_text("Your vote is recorded.")
    # Ann's page, not reloaded, follows: the count, and Bob's vote with his feedback.
    expect(ann_page.locator("#progress")).to_have_text("1 of 2 approvals")
    expect(ann_page.locator("#votes")).to_contain_text(f"{bob.email}: approve")
    expect(ann_page.locator("#votes")).to_contain_text("Invoice matches the order.")
    expect(ann_page.get_by_role("button", name="Approve", exact=True)).to_be_enabled()
    expect(bob_page.locator("#still-needed")).to_have_text(
        "It needs 1 more approval from other reviewers."
    )
    ann_page.get_by_role("button", name="Approve", exact=True).click()
    expect(ann_page.locator("#banner")).to_have_text("Approved.")
    # Bob's page, open on his vote, learns that the request is decided.
    expect(bob_page.locator("#live-decided")).to_contain_text("just decided (approved")
    expect(bob_page.locator("#progress")).to_have_text("2 of 2 approvals")
    assert live_site.admin.get_response(created.id).decision == "approved"
