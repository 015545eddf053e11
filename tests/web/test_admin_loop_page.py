"""The loop's admin page over HTTP: how the loop routes requests, in words and as JSON it can
edit (checked like PATCH /v1/loops/{id}), and "Try a request" (the API's dry run, on the page).
"""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

import httpx

from signoff.domain.model import SYSTEM, UserRole
from signoff.service import loops as loop_service
from tests.web.conftest import Site
from tests.web.support import page_token, sign_in


class _Form(HTMLParser):
    """The fields a browser would submit from the form with id `form_id`, as it shows them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, list[str]] = {}
        self._text: str | None = None  # the textarea being read
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.setdefault(name, []).append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._text = name
            self.fields.setdefault(name, []).append("")
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data: str) -> None:
        if self._text:
            self.fields[self._text][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._text = None
        elif tag == "select" and self._select:
            chosen = [v for v, on in self._options if on] or [self._options[0][0]]
            self.fields[self._select] = chosen[:1]
            self._select = None


def form_of(html: str, form_id: str) -> dict[str, list[str]]:
    parser = _Form(form_id)
    parser.feed(html)
    assert parser.fields, f"no form {form_id}"
    return parser.fields


def _text(html: str) -> str:
    """The page's words: inline tags dropped, others as a space, spaces squeezed."""
    html = re.sub(r"</?(code|strong|span|em|a)\b[^>]*>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _of(html: str, element_id: str) -> str:
    """The words of the element with this id (up to its closing tag of the same name)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.DOTALL)
    assert found, f"no #{element_id}"
    return _text(found.group(2)).strip()


async def _api(site: Site, method: str, path: str, **kw: Any) -> httpx.Response:
    async with site.client() as api:
        return await api.request(
            method, path, headers={"Authorization": f"Bearer {site.admin_key}"}, **kw
        )


async def _state(site: Site) -> tuple[Any, ...]:
    """What a refused form or a dry run must leave as it was: loops, requests, events."""
    loops = (await _api(site, "GET", "/v1/loops", params={"limit": 200})).json()["data"]
    requests = (await _api(site, "GET", "/v1/requests", params={"limit": 200})).json()["data"]
    events = (await _api(site, "GET", "/v1/events", params={"limit": 500})).json()["data"]
    return (loops, [r["id"] for r in requests], [e["id"] for e in events])


async def _world(site: Site) -> dict[str, Any]:
    """Ann and Bob review a loop `payments` with every part of its routing set; `finance`
    is where its rules and escalation may send requests."""
    await site.person("root", UserRole.admin)
    ann, bob = await site.person("ann"), await site.person("bob")
    finance = await site.loop("finance", [bob])
    loop_id = await site.loop("payments", [ann, bob])
    policy = {
        "assignment": "round_robin",
        "rules": [
            {"when": "metadata.amount < 100", "action": "auto_approve"},
            {"when": "metadata.amount > 1000", "action": "set_priority", "priority": "high"},
            {"when": 'metadata.country == "FR"', "action": "route_to", "loop_id": finance},
        ],
        "stages": [
            {"name": "lead", "reviewers": [ann], "timeout_seconds": 600},
            {"name": "treasury", "reviewers": [bob], "when": "metadata.amount > 10000"},
        ],
        "default_timeout_seconds": 7200,
        "default_timeout_action": "reject",
        "pickup_timeout_seconds": 900,
        "reminders": [0.5, 0.9],
        "escalation": [{"after_seconds": 1800, "add_reviewers": [bob]}],
    }
    r = await _api(site, "PATCH", f"/v1/loops/{loop_id}", json=policy)
    assert r.status_code == 200, r.text
    return {"loop": loop_id, "finance": finance, "ann": ann, "bob": bob, "saved": r.json()}


async def test_the_loop_page_and_its_forms_are_for_signed_in_admins_with_the_token(
    site: Site,
) -> None:
    world = await _world(site)
    page, simulate = f"/admin/loops/{world['loop']}", f"/admin/loops/{world['loop']}/simulate"
    change = {"name": "sneaky", "required_approvals": "1", "rules": "[]"}
    trial = {"content": "Pay", "metadata": '{"amount": 5}'}
    before = await _state(site)
    async with site.client() as nobody:
        r = await nobody.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        token = await page_token(nobody, "/login")
        for path, body in ((page, change), (simulate, trial)):
            r = await nobody.post(path, data={**body, "csrf_token": token})
            assert r.status_code in (303, 403), path
    async with site.client() as reviewer:
        await sign_in(reviewer, "ann@example.com")
        token = await page_token(reviewer)
        assert (await reviewer.get(page)).status_code == 403
        for path, body in ((page, change), (simulate, trial)):
            r = await reviewer.post(path, data={**body, "csrf_token": token})
            assert r.status_code == 403, path
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        for path, body in ((page, change), (simulate, trial)):
            for bad in ({}, {"csrf_token": "wrong"}):
                r = await admin.post(path, data={**body, **bad})
                assert r.status_code == 403, (path, bad)
                assert "Try a request" not in r.text
    assert await _state(site) == before


async def test_the_loop_page_shows_how_the_loop_routes_requests(site: Site) -> None:
    world = await _world(site)
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        r = await admin.get(f"/admin/loops/{world['loop']}")
        assert r.status_code == 200, r.text[:2000]
        html = r.text
        fields = form_of(html, "loop-form")
        # Saved as shown, nothing changes.
        saved = await admin.post(f"/admin/loops/{world['loop']}", data=fields)
        assert saved.status_code == 303, saved.text[:2000]
    assert re.search(r'<option value="round_robin" selected>', html)
    assert _of(html, "rules-list") == (
        "when metadata.amount < 100 → approve automatically "
        "when metadata.amount > 1000 → set the priority to high "
        'when metadata.country == "FR" → send to loop finance'
    )
    assert _of(html, "stages-list") == (
        "lead: Ann; 1 approval; 10 min to decide; always "
        "treasury: Bob; 1 approval; only when metadata.amount > 10000"
    )
    clocks = _of(html, "clocks")
    assert "After 2 h (unless a request or a rule sets another timeout), it is rejected." in clocks
    assert "after 15 min, the reviewers are told" in clocks
    assert "At 50 %, 90 % of the time to decide (with the default timeout: after 1 h, " in clocks
    assert "After 30 min: add Bob as reviewers" in clocks
    assert re.search(r'<option value="reject" selected>', html)
    # Each JSON part is the loop's, in the shape PATCH /v1/loops/{id} takes.
    loop = (await _api(site, "GET", f"/v1/loops/{world['loop']}")).json()
    assert json.loads(fields["rules"][0]) == [
        {k: v for k, v in rule.items() if v is not None} for rule in loop["rules"]
    ]
    assert json.loads(fields["reminders"][0]) == loop["reminders"] == [0.5, 0.9]
    assert json.loads(fields["escalation"][0]) == loop["escalation"]
    assert [s["name"] for s in json.loads(fields["stages"][0])] == ["lead", "treasury"]
    assert fields["pickup_timeout_minutes"] == ["15"]
    assert {**loop, "updated_at": None} == {**world["saved"], "updated_at": None}


async def test_a_rule_edit_leaves_the_other_parts_untouched(site: Site) -> None:
    """Only the JSON parts the admin changed are sent: a part changed meanwhile through the
    API, or a timeout the form would show rounded, stays as it is."""
    world = await _world(site)
    loop_id = world["loop"]
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        fields = form_of((await admin.get(f"/admin/loops/{loop_id}")).text, "loop-form")
        # Meanwhile, through the API: other stages, and a timeout no whole number of minutes.
        stages = [{"name": "anyone"}]
        r = await _api(
            site,
            "PATCH",
            f"/v1/loops/{loop_id}",
            json={"stages": stages, "pickup_timeout_seconds": 90},
        )
        assert r.status_code == 200, r.text
        before = r.json()
        rules = [{"when": "metadata.amount < 50", "action": "auto_reject"}]
        sent = fields | {"rules": [json.dumps(rules)]}
        r = await admin.post(f"/admin/loops/{loop_id}", data=sent)
        assert r.status_code == 303, r.text[:2000]
        assert r.headers["location"] == f"/admin/loops/{loop_id}?saved=1"
        shown = await admin.get(r.headers["location"])
        assert _of(shown.text, "flash") == "Loop saved."
        assert _of(shown.text, "rules-list") == "when metadata.amount < 50 → reject automatically"
    after = (await _api(site, "GET", f"/v1/loops/{loop_id}")).json()
    assert [{k: v for k, v in r.items() if v is not None} for r in after["rules"]] == rules
    for part in ("stages", "reminders", "escalation", "assignment", "default_timeout_action"):
        assert after[part] == before[part], part
    assert after["pickup_timeout_seconds"] == 90  # the page read 1.5 min and left it alone
    [event] = [
        e
        for e in (await _api(site, "GET", "/v1/events", params={"limit": 500})).json()["data"]
        if e["type"] == "loop.updated"
    ][-1:]
    assert not {"stages", "reminders", "escalation", "pickup_timeout_seconds"} & set(
        event["data"]["changed"]
    )


async def test_a_refused_save_names_the_field_as_the_api_does_and_saves_nothing(
    site: Site,
) -> None:
    world = await _world(site)
    loop_id = world["loop"]
    bad_rules = [{"when": "metadata.amount <", "action": "auto_approve"}]
    api_answer = await _api(site, "PATCH", f"/v1/loops/{loop_id}", json={"rules": bad_rules})
    assert api_answer.status_code == 422
    [api_error] = api_answer.json()["errors"]
    assert api_error["field"] == "body.rules.0.when"
    assert re.match(r"line 1, column \d+: ", api_error["message"]), api_error
    before = await _state(site)
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        fields = form_of((await admin.get(f"/admin/loops/{loop_id}")).text, "loop-form")
        cases = [
            # A CEL syntax error, beside a name change that must not be saved either.
            ({"name": "renamed", "rules": json.dumps(bad_rules)},
             "rules", " ".join(f"rule 1, when: {api_error['message']}".split())),
            ({"stages": '[{"name": "lead",}]'}, "stages", "not valid JSON: Expecting"),
            ({"rules": '[{"when": "true", "action": "auto_approve", "whenn": 1}]'},
             "rules", "rule 1, whenn: Extra inputs are not permitted"),
            ({"reminders": "[0.5, 2]"}, "reminders", "reminder 2: Input should be less than 1"),
            ({"escalation": '[{"after_seconds": 60}]'},
             "escalation", "step 1: a step needs add_reviewers or route_to"),
            ({"stages": json.dumps([{"name": "x", "reviewers": ["usr_nobody"]}])},
             "stages", "stage 1, reviewers: not a reviewer of the loop: usr_nobody"),
            ({"default_timeout_action": "approve"},
             "default_timeout_action", "approve needs allow_timeout_approval"),
            ({"assignment": "at_random"}, "assignment", "Input should be 'open'"),
            ({"pickup_timeout_minutes": "soon"}, "pickup_timeout_minutes", "give a whole number"),
        ]  # fmt: skip
        for change, field, message in cases:
            sent = fields | {k: [v] for k, v in change.items()}
            r = await admin.post(f"/admin/loops/{loop_id}", data=sent)
            assert r.status_code == 422, (change, r.text[:2000])
            assert message in _of(r.text, f"err-{field}"), (change, _of(r.text, f"err-{field}"))
            assert 'id="form-error"' in r.text
            if field in ("rules", "stages", "reminders", "escalation"):
                # Shown again as sent, its part of the form open, beside the message.
                assert f'<details class="json-edit" id="edit-{field}" open>' in r.text
                assert form_of(r.text, "loop-form")[field] == [change[field]]
    assert await _state(site) == before


async def test_trying_a_request_shows_the_rule_the_people_and_the_timeline(site: Site) -> None:
    world = await _world(site)
    url = f"/admin/loops/{world['loop']}/simulate"
    before = await _state(site)
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        token = await page_token(admin, f"/admin/loops/{world['loop']}")
        r = await admin.post(
            url, data={"csrf_token": token, "content": "Pay", "metadata": '{"amount": 20}'}
        )
        assert r.status_code == 200, r.text[:2000]
        assert _of(r.text, "sim-outcome") == "Approved at once by rule 1: no one is asked."
        assert _of(r.text, "sim-rule") == (
            "Rule 1: when metadata.amount < 100 → approve automatically"
        )
        assert _of(r.text, "sim-timeline") == (
            "at creation The request is created. "
            "at creation It is approved automatically, by a rule; no one is asked."
        )
        r = await admin.post(
            url,
            data={
                "csrf_token": token,
                "title": "Wire",
                "content": "Pay the supplier",
                "priority": "low",
                "metadata": '{"amount": 25000, "country": "DE"}',
                "ai_analysis": '{"confidence": 0.4}',
            },
        )
        assert r.status_code == 200, r.text[:2000]
        html = r.text
        assert _of(html, "sim-outcome") == ("Waits for a person: 1 approval needed, priority high.")
        assert "None: no rule approves, rejects or sends it elsewhere." in _of(html, "sim-rules")
        assert "Rule 2: when metadata.amount > 1000 → set the priority to high" in _of(
            html, "sim-rules"
        )
        assert _of(html, "sim-reviewers") == "Ann, Bob"
        assert _of(html, "sim-stages") == (
            "lead: Ann; 1 approval; 10 min to decide treasury: Bob; 1 approval"
        )
        assert _of(html, "sim-timeline") == (
            "at creation The request is created. "
            "after 10 min If stage lead is still waiting, it runs out of time: it is rejected. "
            "after 15 min If nobody has opened, claimed or voted on it yet, the reviewers are "
            "told. "
            "after 30 min Escalation: add Bob as reviewers. "
            "after 1 h The reviewers are reminded (50 % of the time to decide). "
            "after 1 h 48 min The reviewers are reminded (90 % of the time to decide). "
            "after 2 h Timeout: it is rejected."
        )
        # What was tried stays in the form.
        tried = form_of(html, "try-form")
        assert tried["metadata"] == ['{"amount": 25000, "country": "DE"}']
        assert tried["priority"] == ["low"]
        r = await admin.post(
            url,
            data={"csrf_token": token, "content": "Pay", "metadata": '{"country": "FR"}'},
        )
        assert _of(r.text, "sim-outcome") == (
            "Waits for a person in loop finance: 1 approval needed, priority normal."
        )
        assert "Rule 1 (metadata.amount < 100): no such key: amount; it does not fire." in _of(
            r.text, "sim-rule-errors"
        )
        assert _of(r.text, "sim-reviewers") == "Bob"
    assert await _state(site) == before  # nothing created, nothing recorded


async def test_trying_a_request_with_bad_input_names_the_field(site: Site) -> None:
    world = await _world(site)
    url = f"/admin/loops/{world['loop']}/simulate"
    before = await _state(site)
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        token = await page_token(admin, f"/admin/loops/{world['loop']}")
        cases = [
            ({"metadata": '{"amount": '}, "metadata", "not valid JSON: Expecting value"),
            ({"metadata": "[1, 2]"}, "metadata", "Input should be a valid dictionary"),
            ({"ai_analysis": '{"confidence": 5}'},
             "ai_analysis", "confidence: Input should be less than or equal to 1"),
            ({"ai_analysis": "{'a': 1}"}, "ai_analysis", "not valid JSON"),
            ({"content_type": "json", "content": "{no"}, "content", "must be valid JSON"),
            ({"priority": "whenever"}, "priority", "Input should be 'low'"),
        ]  # fmt: skip
        for change, field, message in cases:
            r = await admin.post(url, data={"csrf_token": token, "content": "Pay", **change})
            assert r.status_code == 422, (change, r.text[:2000])
            assert message in _of(r.text, f"err-try-{field}"), (change, r.text[-3000:])
            assert 'id="sim-outcome"' not in r.text
            if field != "priority":  # a select shows its options, not what was sent
                assert form_of(r.text, "try-form")[field] == [change[field]]
    assert await _state(site) == before


async def test_the_loop_page_of_a_loop_with_nothing_set_and_a_missing_loop(site: Site) -> None:
    await site.person("root", UserRole.admin)
    loop_id = await site.loop("plain", [])
    async with site.client() as admin:
        await sign_in(admin, "root@example.com")
        html = (await admin.get(f"/admin/loops/{loop_id}")).text
        assert "No rules: every request goes to the reviewers as it was made." in html
        assert "No stages: the loop's reviewers decide in one step." in html
        assert "No default timeout" in _of(html, "clocks")
        token = await page_token(admin, f"/admin/loops/{loop_id}")
        r = await admin.post(
            f"/admin/loops/{loop_id}/simulate", data={"csrf_token": token, "content": "x"}
        )
        assert _of(r.text, "sim-reviewers") == "nobody: the loop has no reviewers"
        ghost = "/admin/loops/loop_01J00000000000000000000000"
        assert (await admin.get(ghost)).status_code == 404
        r = await admin.post(f"{ghost}/simulate", data={"csrf_token": token, "content": "x"})
        assert r.status_code == 404
    await loop_service.delete_loop(site.ctx, SYSTEM, loop_id)
