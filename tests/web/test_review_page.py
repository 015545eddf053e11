"""What the review page shows: content by type (sanitized), context, metadata, the AI's
analysis, quorum progress, votes, history, and the thread of a revision with its diff."""

from __future__ import annotations

import html
import re

from signoff.domain.model import SYSTEM, Choice, Principal, Role
from signoff.domain.voting import Ballot
from signoff.service.votes import vote
from tests.web.conftest import Site
from tests.web.support import csrf_of, sign_in


async def _page(site: Site, request_id: str, who: str = "ann@example.com") -> str:
    async with site.client() as browser:
        await sign_in(browser, who)
        response = await browser.get(f"/requests/{request_id}")
        assert response.status_code == 200, response.text[:3000]
        return response.text


async def test_markdown_is_rendered_and_sanitized(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    body = "# Plan\n\n- **one**\n- [link](javascript:alert(1))\n\n<script>alert(1)</script>"
    created = await site.create(loop, content=body, content_type="markdown")
    text = await _page(site, str(created["id"]))
    assert "<h1>Plan</h1>" in text and "<strong>one</strong>" in text
    assert 'href="javascript' not in text
    assert "<script>alert(1)</script>" not in text


async def test_html_is_sanitized_and_isolated_in_a_sandboxed_frame(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    body = '<p onclick="steal()">Hi <b>there</b></p><script>steal()</script>'
    body += "<img src=x onerror=steal()>"
    created = await site.create(loop, content=body, content_type="html")
    text = await _page(site, str(created["id"]))
    frame = re.search(r'<iframe sandbox="" srcdoc="([^"]*)"', text)
    assert frame, text
    inner = html.unescape(frame.group(1))
    assert "<b>there</b>" in inner
    assert "steal" not in inner and "<script" not in inner


async def test_json_folds_and_text_keeps_its_whitespace(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    as_json = await site.create(
        loop, content={"order": {"id": 7, "items": [1, 2]}}, content_type="json"
    )
    text = await _page(site, str(as_json["id"]))
    assert "<details open><summary>{1 key}</summary>" in text
    assert '<span class="key">&#34;items&#34;:</span>' in text
    spaced = await site.create(loop, content="a  b\n\n  c")
    assert '<pre class="text">a  b\n\n  c</pre>' in await _page(site, str(spaced["id"]))
    image = await site.create(loop, content="https://example.com/cat.png", content_type="image_url")
    assert '<img src="https://example.com/cat.png"' in await _page(site, str(image["id"]))


async def test_context_metadata_and_a_risky_ai_analysis_stand_out(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    risky = await site.create(
        loop,
        context={"customer": "ACME"},
        metadata={"ticket": "T-1", "amount": 12},
        ai_analysis={"confidence": 0.4, "risk_score": 0.9, "flags": ["pii"], "summary": "hm"},
    )
    text = await _page(site, str(risky["id"]))
    assert 'class="panel ai alert"' in text and "Look closely" in text
    assert "<li>pii</li>" in text and "40 %" in text and "0.90" in text
    assert '<th scope="row">ticket</th><td class="long">T-1</td>' in text
    assert "&#34;customer&#34;" in text
    calm = await site.create(loop, ai_analysis={"confidence": 0.95, "risk_score": 0.1})
    assert 'class="panel ai"' in await _page(site, str(calm["id"]))


async def test_quorum_progress_votes_and_history(site: Site) -> None:
    ann = await site.person("ann")
    bob = await site.person("bob")
    loop = await site.loop("pair", [ann, bob], approvals=2)
    created = await site.create(loop, requested_by="agent-7")
    bob_principal = Principal(Role.reviewer, user_id=bob, user_email="bob@example.com")
    await vote(site.ctx, bob_principal, str(created["id"]), Ballot(Choice.approve, "ok by me"))
    text = await _page(site, str(created["id"]))
    assert "1 of 2 approvals" in text
    assert "<strong>bob@example.com</strong>: approve" in text and "ok by me" in text
    assert "created" in text and "vote" in text and "agent-7" in text
    # Bob has voted: the request waits for others, so it is not in his inbox any more.
    mine = await _page(site, str(created["id"]), "bob@example.com")
    assert "You voted <strong>approve</strong>" in mine
    assert SYSTEM  # the system principal made the loop


async def test_a_revision_shows_earlier_rounds_their_feedback_and_the_diff(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    first = await site.create(loop, content="Hello,\nthe price is 10.\nBye", title="Round 1")
    ann_principal = Principal(Role.reviewer, user_id=ann, user_email="ann@example.com")
    await vote(
        site.ctx,
        ann_principal,
        str(first["id"]),
        Ballot(Choice.needs_changes, "Say 12, not 10."),
    )
    second = await site.create(
        loop,
        content="Hello,\nthe price is 12.\nBye",
        title="Round 2",
        previous_request_id=first["id"],
    )
    text = await _page(site, str(second["id"]))
    assert "Earlier rounds" in text and "Round 1" in text
    assert "Say 12, not 10." in text
    assert '<span class="del">-the price is 10.</span>' in text
    assert '<span class="ins">+the price is 12.</span>' in text
    older = await _page(site, str(first["id"]))
    assert "This request has a newer round" in older and str(second["id"]) in older


async def test_an_ai_analysis_with_only_some_fields_shows_what_it_has(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("l", [ann])
    for analysis, shown, absent in (
        ({"confidence": 0.5}, "50 %", "Risk score"),
        ({"risk_score": 0.9}, "0.90", "Confidence"),
        ({"flags": ["a"]}, "<li>a</li>", "Confidence"),
    ):
        created = await site.create(loop, ai_analysis=analysis)
        text = await _page(site, str(created["id"]))
        assert shown in text and absent not in text, analysis


def _error(text: str, name: str) -> str:
    """The error the page shows next to the field `name` ('' if none)."""
    found = re.search(rf'<p class="field-error" id="err-{re.escape(name)}"[^>]*>([^<]*)</p>', text)
    return html.unescape(found.group(1)) if found else ""


async def test_a_refused_answer_speaks_of_the_page_not_of_the_api(site: Site) -> None:
    ann = await site.person("ann")
    loop = await site.loop("answers", [ann])
    one = await site.create(loop, response={"type": "choice", "options": ["red", "blue"]})
    many = await site.create(
        loop, response={"type": "choice", "options": ["a", "b"], "multiple": True}
    )
    free = await site.create(loop, response={"type": "text"})
    schema = {
        "type": "object",
        "properties": {
            "amount": {"type": "integer", "maximum": 1000, "title": "Amount"},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$", "title": "Code"},
            "reasons": {"type": "array", "items": {"enum": ["late", "broken"]}, "minItems": 2},
            "note": {"type": "string", "minLength": 5},
        },
        "required": ["amount", "code"],
    }
    form = await site.create(loop, response={"type": "form", "schema": schema})
    async with site.client() as browser:
        await sign_in(browser, "ann@example.com")

        async def answer(request: dict[str, object], **fields: object) -> str:
            url = f"/requests/{request['id']}"
            token = csrf_of((await browser.get(url)).text)
            sent = {"decision": "approve", "csrf_token": token, **fields}
            refused = await browser.post(f"{url}/decide", data=sent)
            assert refused.status_code == 422, refused.text[:2000]
            text = refused.text
            assert "body." not in text and "response_data" not in text.replace("err-response", "")
            assert "Your answer was not accepted: see what is marked below." in text
            return text

        assert _error(await answer(one), "response_data") == "Pick one of the choices."
        assert _error(await answer(many), "response_data") == "Pick at least one of the choices."
        assert _error(await answer(free, answer="  "), "response_data") == "Write your answer."
        text = await answer(form, **{"field.note": "hi", "field.reasons": "late"})
        assert _error(text, "f-amount") == "Fill this in."
        assert _error(text, "f-code") == "Fill this in."
        assert _error(text, "f-reasons") == "Pick at least 2."
        assert _error(text, "f-note") == "At least 5 characters."
        assert 'value="late" checked' in text  # what was picked stays picked
        text = await answer(form, **{"field.amount": "12.5", "field.code": "abc"})
        assert _error(text, "f-amount") == "Give a whole number."
        assert 'value="12.5"' in text and 'value="abc"' in text  # what was typed stays
        text = await answer(form, **{"field.amount": "5000", "field.code": "abc"})
        assert _error(text, "f-amount") == "At most 1000."
        assert _error(text, "f-code") == "This is not in the expected form."
        assert 'aria-describedby="err-f-amount"' in text
        # A rejection without feedback says what to do, next to the feedback box.
        url = f"/requests/{one['id']}"
        token = csrf_of((await browser.get(url)).text)
        refused = await browser.post(
            f"{url}/decide", data={"decision": "reject", "csrf_token": token}
        )
        assert refused.status_code == 422
        assert _error(refused.text, "feedback").startswith("Write some feedback first")
    for request in (one, many, free, form):
        assert (await site.response_of(str(request["id"])))["status"] == "pending"
