"""Errors and bad input: RFC 9457 problems naming the field, never a 500, never half a write.

The helpers at the top (`assert_problem`, `snapshot`, `case`, …) are shared by the other API
tests. Tests here loop over many cases inside one test (each named by `case`) rather than
parametrizing, because every test pays for a fresh database, twice.
A 500 would not even be an answer here: the test client re-raises the server's exception.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from signoff.service.context import seal
from tests.conftest import Api

PROBLEM = "application/problem+json"
LIMIT = 256 * 1024  # the `api` fixture's body limit
GHOST_LOOP = "loop_01J00000000000000000000000"
GHOST_REQUEST = "req_01J00000000000000000000000"
GHOST_USER = "usr_01J00000000000000000000000"
GHOST_KEY = "key_01J00000000000000000000000"
JSON = {"content-type": "application/json"}


@contextmanager
def case(name: object) -> Iterator[None]:
    """Name the case a failing assertion belongs to, in a test that loops over many."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"[case {name}] {exc}") from exc


def assert_problem(
    r: httpx.Response,
    status: int,
    *,
    slug: str | None = None,
    fields: Iterable[str] | None = None,
) -> dict[str, Any]:
    """`r` is an RFC 9457 problem with this status; with `fields`, exactly those are named."""
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"] == PROBLEM, r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:signoff:problem:"), body
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if slug is not None:
        assert body["type"] == f"urn:signoff:problem:{slug}", body
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    if status == 422:
        assert body["errors"], body
        for error in body["errors"]:
            assert set(error) == {"field", "message"}
            assert error["field"] and error["message"]
    if fields is not None:
        assert {e["field"] for e in body.get("errors", [])} == set(fields), body
    return body


async def all_pages(
    api: Api, url: str, who: str = "admin", params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated list, checking that no item comes twice."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": 500, **(params or {})}
        if cursor is not None:
            query["cursor"] = cursor
        r = await api.as_(who, "GET", url, params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "an item came twice"
    return items


async def all_events(api: Api, **params: Any) -> list[dict[str, Any]]:
    """The whole event log, once every committed event is sealed into the chain."""
    await seal(api.ctx)
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        r = await api.as_("admin", "GET", "/v1/events", params={**params, "after": after})
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["data"]
        if page["next_cursor"] is None:
            return events
        after = int(page["next_cursor"])


async def events_of_type(api: Api, type_: str) -> list[dict[str, Any]]:
    return await all_events(api, type=type_)


async def snapshot(api: Api) -> dict[str, Any]:
    """Everything the API can tell: compare two snapshots to prove a refused call wrote nothing."""
    state: dict[str, Any] = {"events": [e["id"] for e in await all_events(api)]}
    for url in ("/v1/loops", "/v1/requests", "/v1/users", "/v1/api-keys", "/v1/webhooks"):
        state[url] = await all_pages(api, url)
    for endpoint in state["/v1/webhooks"]:
        # The dispatcher runs beside the test and notes each failed delivery; that is not a
        # write by the call under test.
        endpoint.pop("failing_since", None)
    for request in state["/v1/requests"]:
        r = await api.as_("admin", "GET", f"/v1/requests/{request['id']}/events")
        state[request["id"]] = r.json()["data"]
    return state


async def world(api: Api) -> dict[str, str]:
    """A reviewer `ann`, a loop she reviews, and one pending request in it."""
    ann = await api.add_reviewer("ann")
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": "payments", "reviewers": [ann]})
    assert r.status_code == 201, r.text
    loop_id = r.json()["id"]
    r = await api.as_("requester", "POST", f"/v1/loops/{loop_id}/requests", json={"content": "x"})
    assert r.status_code == 201, r.text
    return {"ann": ann, "loop": loop_id, "request": r.json()["id"]}


# Every route that takes a JSON body, with a body it would accept.
BODY_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("admin", "POST", "/v1/loops", {"name": "new"}),
    ("admin", "PATCH", "/v1/loops/{loop}", {"description": "d"}),
    ("requester", "POST", "/v1/loops/{loop}/requests", {"content": "c"}),
    ("requester", "POST", "/v1/loops/{loop}/requests/batch", {"items": [{"content": "c"}]}),
    ("requester", "PATCH", "/v1/requests/{request}", {"content": "c2"}),
    ("requester", "POST", "/v1/requests/{request}/cancel", {"reason": "r"}),
    ("ann", "POST", "/v1/requests/{request}/decisions", {"decision": "approve"}),
    ("admin", "POST", "/v1/users", {"email": "new@example.com", "name": "New"}),
    ("admin", "PATCH", "/v1/users/{ann}", {"name": "Ann B"}),
    ("admin", "POST", "/v1/api-keys", {"name": "k", "role": "requester"}),
]


async def test_the_shape_of_every_kind_of_error(api: Api) -> None:
    w = await world(api)
    missing = await api.client.get("/v1/loops")
    assert_problem(missing, 401, slug="unauthenticated")
    wrong_role = await api.as_("requester", "POST", "/v1/loops", json={"name": "x"})
    assert_problem(wrong_role, 403, slug="forbidden")
    assert_problem(await api.as_("admin", "GET", "/v1/nowhere"), 404, slug="not-found")
    assert_problem(await api.client.get("/nowhere"), 404, slug="not-found")
    assert_problem(await api.as_("admin", "PUT", "/v1/loops"), 405, slug="method-not-allowed")
    unknown = await api.as_("admin", "GET", f"/v1/loops/{GHOST_LOOP}")
    assert GHOST_LOOP in assert_problem(unknown, 404, slug="not-found")["detail"]
    dup = await api.as_("admin", "POST", "/v1/loops", json={"name": "payments"})
    assert_problem(dup, 409, slug="conflict")
    cancel = f"/v1/requests/{w['request']}/cancel"
    assert (await api.as_("requester", "POST", cancel)).status_code == 200
    assert_problem(await api.as_("requester", "POST", cancel), 409, slug="invalid-transition")
    invalid = await api.as_("admin", "POST", "/v1/loops", json={"name": ""})
    assert_problem(invalid, 422, slug="validation-failed", fields={"body.name"})
    malformed = await api.as_("admin", "POST", "/v1/loops", content=b"{", headers=JSON)
    assert_problem(malformed, 400, slug="malformed-json")
    big = await api.as_("admin", "POST", "/v1/loops", content=b" " * (LIMIT + 1))
    assert_problem(big, 413, slug="payload-too-large")


async def test_a_body_over_the_limit_is_a_413_with_or_without_content_length(api: Api) -> None:
    w = await world(api)
    before = await snapshot(api)
    for who, method, url, body in BODY_ROUTES:
        padded = json.dumps({**body, "pad": "x" * LIMIT}).encode()

        async def chunks(padded: bytes = padded) -> AsyncIterator[bytes]:
            for start in range(0, len(padded), 16 * 1024):
                yield padded[start : start + 16 * 1024]

        with case(f"{method} {url} with Content-Length"):
            r = await api.as_(who, method, url.format(**w), content=padded, headers=JSON)
            assert_problem(r, 413, slug="payload-too-large")
        with case(f"{method} {url} chunked"):
            streamed = api.client.build_request(
                method, url.format(**w), content=chunks(), headers={**api.auth(who), **JSON}
            )
            assert "content-length" not in streamed.headers
            assert streamed.headers["transfer-encoding"] == "chunked"
            assert_problem(await api.client.send(streamed), 413, slug="payload-too-large")
    assert await snapshot(api) == before


async def test_a_body_just_under_the_limit_is_accepted_whole(api: Api) -> None:
    w = await world(api)
    content = "é" * ((LIMIT - 200) // 2)  # two bytes each in UTF-8
    body = json.dumps({"content": content}, ensure_ascii=False).encode()
    assert LIMIT - 300 < len(body) <= LIMIT
    url = f"/v1/loops/{w['loop']}/requests"

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:1000]
        yield body[1000:]

    for sent in (body, chunks()):
        r = await api.as_("requester", "POST", url, content=sent, headers=JSON)
        assert r.status_code == 201, r.text[:300]
        got = await api.as_("requester", "GET", f"/v1/requests/{r.json()['id']}")
        assert got.json()["content"] == content


async def test_malformed_json_is_a_400_and_writes_nothing(api: Api) -> None:
    w = await world(api)
    before = await snapshot(api)
    for who, method, url, _ in BODY_ROUTES:
        for raw in (b"{", b'{"name": "x",}', b"{'a': 1}", b"\xff\xfe", b"nul", b'{"a": 1} x'):
            with case(f"{method} {url} {raw!r}"):
                r = await api.as_(who, method, url.format(**w), content=raw, headers=JSON)
                assert_problem(r, 400, slug="malformed-json")
    assert await snapshot(api) == before


async def test_unauthenticated_calls_are_a_401_before_anything_else(api: Api) -> None:
    """Nothing of an unauthenticated call is looked at: not its JSON, its fields or its ids."""
    w = await world(api)
    before = await snapshot(api)
    revoked = await api.as_("admin", "POST", "/v1/api-keys", json={"name": "r", "role": "admin"})
    await api.as_("admin", "DELETE", f"/v1/api-keys/{revoked.json()['id']}")
    bad_keys = [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer not-a-key",
        "Bearer sk_000000000000_nope",
        f"Bearer {api.keys['admin']}x",
        f"Token {api.keys['admin']}",
        f"Bearer {revoked.json()['key']}",
    ]
    before = await snapshot(api)
    for _, method, url, body in BODY_ROUTES:
        for raw in (b"{", b'{"unknown": 1}', json.dumps(body).encode()):
            for header in bad_keys:
                headers = {**JSON, **({"authorization": header} if header is not None else {})}
                with case(f"{method} {url} {raw!r} {header}"):
                    path = url.format(**w)
                    r = await api.client.request(method, path, content=raw, headers=headers)
                    assert_problem(r, 401, slug="unauthenticated")
                    ghost = url.format(loop=GHOST_LOOP, request=GHOST_REQUEST, ann=GHOST_USER)
                    r = await api.client.request(method, ghost, content=raw, headers=headers)
                    assert_problem(r, 401, slug="unauthenticated")
    assert await snapshot(api) == before


async def test_a_body_that_is_not_an_object_is_a_422(api: Api) -> None:
    w = await world(api)
    before = await snapshot(api)
    for who, method, url, _ in BODY_ROUTES:
        for raw in (b"[]", b'"text"', b"3", b"null", b""):
            if url.endswith("/cancel") and raw in (b"null", b""):
                continue  # the cancel body is optional: see test_requests
            with case(f"{method} {url} {raw!r}"):
                r = await api.as_(who, method, url.format(**w), content=raw, headers=JSON)
                assert_problem(r, 422, fields={"body"})
    assert await snapshot(api) == before


async def test_an_unknown_field_is_a_422_naming_it(api: Api) -> None:
    w = await world(api)
    before = await snapshot(api)
    for who, method, url, body in BODY_ROUTES:
        with case(f"{method} {url}"):
            r = await api.as_(who, method, url.format(**w), json={**body, "colour": "red"})
            assert_problem(r, 422, fields={"body.colour"})
    assert await snapshot(api) == before


def req(**fields: Any) -> dict[str, Any]:
    return {"content": "x", **fields}


def cb(**fields: Any) -> dict[str, Any]:
    return req(callback={"url": "https://x.example", **fields})


WRONG_REQUEST_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({}, "body.content"),
    ({"content": None}, "body.content"),
    ({"content": {"a": 1}}, "body.content"),
    ({"content": ["a"], "content_type": "markdown"}, "body.content"),
    ({"content": 5, "content_type": "html"}, "body.content"),
    (req(content_type="pdf"), "body.content_type"),
    (req(title=5), "body.title"),
    (req(title="t" * 501), "body.title"),
    (req(priority="asap"), "body.priority"),
    (req(priority=None), "body.priority"),
    (req(context=float("nan")), "body.context"),
    (req(metadata=[1, 2]), "body.metadata"),
    (req(metadata=None), "body.metadata"),
    (req(ai_analysis={"confidence": 1.5}), "body.ai_analysis.confidence"),
    (req(ai_analysis={"risk_score": -0.1}), "body.ai_analysis.risk_score"),
    (req(ai_analysis={"flags": "pii"}), "body.ai_analysis.flags"),
    (req(ai_analysis="high"), "body.ai_analysis"),
    (req(response={"type": "vote"}), "body.response.type"),
    (req(response={"type": "choice"}), "body.response.options"),
    (req(response={"type": "choice", "options": []}), "body.response.options"),
    (req(response={"type": "choice", "options": ["a", "a"]}), "body.response.options"),
    (req(response={"type": "choice", "options": [""]}), "body.response.options.0"),
    (req(response={"type": "form"}), "body.response.schema"),
    (req(response={"type": "form", "schema": {"type": "nonsense"}}), "body.response.schema"),
    (req(response={"type": "text", "extra": 1}), "body.response.extra"),
    (req(required_approvals=0), "body.required_approvals"),
    (req(required_approvals=101), "body.required_approvals"),
    (req(required_approvals=1.5), "body.required_approvals"),
    (req(required_approvals="1"), "body.required_approvals"),
    (req(required_approvals=True), "body.required_approvals"),
    (
        req(response={"type": "choice", "options": ["a"], "multiple": "true"}),
        "body.response.multiple",
    ),
    (req(requested_by=["a"]), "body.requested_by"),
    (req(requested_by="a" * 321), "body.requested_by"),
    (req(timeout_seconds=0), "body.timeout_seconds"),
    (req(timeout_seconds=10**12), "body.timeout_seconds"),
    (req(timeout_action="explode"), "body.timeout_action"),
    (req(timeout_action="approve"), "body.timeout_action"),
    (req(callback="https://x.example"), "body.callback"),
    (req(callback={"url": "not a url"}), "body.callback.url"),
    (req(callback={"url": "ftp://x.example"}), "body.callback.url"),
    (cb(events="all"), "body.callback.events"),
    (cb(auth={"strategy": "x"}), "body.callback.auth"),
    (cb(auth={"strategy": "bearer"}), "body.callback.auth.bearer.token"),
    (cb(auth={"strategy": "basic", "password": "p"}), "body.callback.auth.basic.username"),
    (req(previous_request_id=GHOST_REQUEST), "body.previous_request_id"),
    (req(surprise=True), "body.surprise"),
]


async def test_a_wrong_request_field_is_a_422_naming_it(api: Api) -> None:
    w = await world(api)
    before = await snapshot(api)
    url = f"/v1/loops/{w['loop']}/requests"
    for body, field in WRONG_REQUEST_FIELDS:
        raw = json.dumps(body).encode()  # NaN goes out as the (non-JSON) literal it is
        with case(f"{body} single"):
            r = await api.as_("requester", "POST", url, content=raw, headers=JSON)
            assert_problem(r, 422, fields={field})
        with case(f"{body} in a batch"):
            batch = {"items": [{"content": "ok"}, body]}
            r = await api.as_(
                "requester", "POST", f"{url}/batch", content=json.dumps(batch), headers=JSON
            )
            assert_problem(r, 422, fields={field.replace("body.", "body.items.1.", 1)})
    assert await snapshot(api) == before


async def test_an_unknown_id_is_a_404_and_writes_nothing(api: Api) -> None:
    await world(api)
    before = await snapshot(api)
    calls: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("admin", "GET", f"/v1/loops/{GHOST_LOOP}", None),
        ("requester", "GET", f"/v1/loops/{GHOST_LOOP}", None),
        ("admin", "PATCH", f"/v1/loops/{GHOST_LOOP}", {"description": "d"}),
        ("admin", "DELETE", f"/v1/loops/{GHOST_LOOP}", None),
        ("requester", "POST", f"/v1/loops/{GHOST_LOOP}/requests", {"content": "c"}),
        ("requester", "POST", f"/v1/loops/{GHOST_LOOP}/requests/batch", {"items": [req()]}),
        ("requester", "GET", f"/v1/requests/{GHOST_REQUEST}", None),
        ("requester", "PATCH", f"/v1/requests/{GHOST_REQUEST}", {"content": "c"}),
        ("requester", "POST", f"/v1/requests/{GHOST_REQUEST}/cancel", None),
        ("requester", "GET", f"/v1/requests/{GHOST_REQUEST}/status", None),
        ("requester", "GET", f"/v1/requests/{GHOST_REQUEST}/response", None),
        ("requester", "GET", f"/v1/requests/{GHOST_REQUEST}/events", None),
        ("admin", "POST", f"/v1/requests/{GHOST_REQUEST}/decisions", {"decision": "approve"}),
        ("ann", "POST", f"/v1/requests/{GHOST_REQUEST}/decisions", {"decision": "approve"}),
        ("ann", "GET", f"/v1/requests/{GHOST_REQUEST}", None),
        ("admin", "GET", f"/v1/users/{GHOST_USER}", None),
        ("admin", "PATCH", f"/v1/users/{GHOST_USER}", {"name": "n"}),
        ("admin", "DELETE", f"/v1/api-keys/{GHOST_KEY}", None),
        ("requester", "GET", "/v1/requests/not-an-id", None),
        ("requester", "GET", "/v1/requests/req_%F0%9F%98%80", None),
        ("admin", "GET", "/v1/loops/" + "x" * 300, None),
    ]  # fmt: skip
    for who, method, url, body in calls:
        with case(f"{who} {method} {url}"):
            assert_problem(await api.as_(who, method, url, json=body), 404, slug="not-found")
    assert await snapshot(api) == before


async def test_a_bad_cursor_is_a_422_naming_it(api: Api) -> None:
    w = await world(api)
    # Make every list two pages long at limit=1, so that each gives out a real cursor.
    second = await api.as_("admin", "POST", "/v1/loops", json={"name": "second"})
    assert second.status_code == 201
    await api.add_reviewer("bob")
    more = await api.as_(
        "requester", "POST", f"/v1/loops/{w['loop']}/requests", json={"content": "y"}
    )
    assert more.status_code == 201
    lists = ["/v1/loops", "/v1/requests", "/v1/users", "/v1/api-keys"]
    cursors = {}
    for url in lists:
        page = (await api.as_("admin", "GET", url, params={"limit": 1})).json()
        assert page["next_cursor"], url
        cursors[url] = page["next_cursor"]
    for url in lists:
        foreign = [c for other, c in cursors.items() if other != url]
        for cursor in ["garbage", "!!!", "bG9vcF8x", "=", "a" * 5000, "\x00", *foreign]:
            with case(f"{url} {cursor[:20]!r}"):
                r = await api.as_("admin", "GET", url, params={"cursor": cursor})
                assert_problem(r, 422, fields={"query.cursor"})


async def test_bad_query_parameters_are_a_422_naming_them(api: Api) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/v1/loops", {"limit": 0}, "query.limit"),
        ("/v1/loops", {"limit": "ten"}, "query.limit"),
        ("/v1/requests", {"limit": -1}, "query.limit"),
        ("/v1/requests", {"status": "done"}, "query.status"),
        ("/v1/requests", {"priority": "asap"}, "query.priority"),
        ("/v1/requests", {"created_after": "yesterday"}, "query.created_after"),
        ("/v1/requests", {"created_before": "2026-01-01T00:00:00"}, "query.created_before"),
        ("/v1/events", {"after": -1}, "query.after"),
        ("/v1/events", {"after": "x"}, "query.after"),
        ("/v1/events", {"after": 2**63}, "query.after"),
        ("/v1/events", {"after": 10**30}, "query.after"),
        ("/v1/users", {"limit": 1.5}, "query.limit"),
        ("/v1/api-keys", {"limit": ""}, "query.limit"),
    ]
    for url, params, field in cases:
        with case(f"{url} {params}"):
            assert_problem(await api.as_("admin", "GET", url, params=params), 422, fields={field})


async def test_a_limit_above_the_maximum_is_capped(api: Api) -> None:
    w = await world(api)
    r = await api.as_("admin", "GET", "/v1/requests", params={"limit": 10**9})
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["data"]] == [w["request"]]


async def test_a_wait_out_of_range_is_a_422(api: Api) -> None:
    w = await world(api)
    url = f"/v1/requests/{w['request']}/response"
    for wait in ("-1", "301", "inf", "nan", "soon"):
        with case(wait):
            r = await api.as_("requester", "GET", url, params={"wait": wait})
            assert_problem(r, 422, fields={"query.wait"})


async def test_metadata_over_16_kib_is_a_422_on_every_write(api: Api) -> None:
    w = await world(api)
    before = await snapshot(api)
    url = f"/v1/loops/{w['loop']}/requests"
    # 16 KiB exactly is fine; one byte more is not (sizes are of the compact JSON).
    fits = {"k": "x" * (16 * 1024 - len('{"k":""}'))}
    over = {"k": "x" * (16 * 1024 - len('{"k":""}') + 1)}
    r = await api.as_("requester", "POST", url, json={"content": "c", "metadata": over})
    body = assert_problem(r, 422, fields={"body.metadata"})
    assert "16384" in body["detail"]
    items = [{"content": "c"}, {"content": "c"}, {"content": "c", "metadata": over}]
    r = await api.as_("requester", "POST", f"{url}/batch", json={"items": items})
    assert_problem(r, 422, fields={"body.items.2.metadata"})
    r = await api.as_("requester", "PATCH", f"/v1/requests/{w['request']}", json={"metadata": over})
    assert_problem(r, 422, fields={"body.metadata"})
    assert await snapshot(api) == before
    r = await api.as_("requester", "POST", url, json={"content": "c", "metadata": fits})
    assert r.status_code == 201, r.text[:200]
    assert r.json()["metadata"] == fits
    r = await api.as_("requester", "PATCH", f"/v1/requests/{w['request']}", json={"metadata": fits})
    assert r.status_code == 200, r.text[:200]


# Input that has broken servers before: NUL characters (PostgreSQL text cannot hold them), lone
# surrogates (UTF-8 cannot encode them), NaN and Infinity (not JSON, though Python's parser
# takes them), numbers no column holds. Each must get a 422 naming the field, and change nothing.
WRITES = {
    "loop": ("admin", "POST", "/v1/loops"),
    "create": ("requester", "POST", "/v1/loops/{loop}/requests"),
    "patch": ("requester", "PATCH", "/v1/requests/{request}"),
    "cancel": ("requester", "POST", "/v1/requests/{request}/cancel"),
    "decide": ("ann", "POST", "/v1/requests/{request}/decisions"),
    "user": ("admin", "POST", "/v1/users"),
    "key": ("admin", "POST", "/v1/api-keys"),
}
NASTY: list[tuple[str, bytes | dict[str, Any], str]] = [
    ("loop", {"name": "a\x00b"}, "body.name"),
    ("loop", {"name": "ok", "description": "\ud800"}, "body.description"),
    ("create", {"content": "a\x00b"}, "body.content"),
    ("create", req(title="a\x00"), "body.title"),
    ("create", {"content": "\udfff"}, "body.content"),
    ("create", req(requested_by="\x00"), "body.requested_by"),
    ("create", req(metadata={"\x00": 1}), "body.metadata"),
    ("create", req(metadata={"k": ["\ud83d"]}), "body.metadata"),
    ("create", b'{"content": "x", "metadata": {"n": NaN}}', "body.metadata"),
    ("create", b'{"content": {"n": Infinity}, "content_type": "json"}', "body.content"),
    ("create", b'{"content":"x","ai_analysis":{"confidence":NaN}}', "body.ai_analysis.confidence"),
    ("create", b'{"content":"x","ai_analysis":{"score":-Infinity}}', "body.ai_analysis.score"),
    ("create", req(ai_analysis={"flags": ["\x00"]}), "body.ai_analysis.flags"),
    ("create", b'{"content": "x", "required_approvals": 1e400}', "body.required_approvals"),
    ("create", req(required_approvals=10**40), "body.required_approvals"),
    ("create", req(timeout_seconds=2**63), "body.timeout_seconds"),
    ("create", req(callback={"url": "https://\x00.example"}), "body.callback.url"),
    ("create", cb(auth={"strategy": "bearer", "token": "\x00"}), "body.callback.auth.bearer.token"),
    ("create", req(response={"type": "choice", "options": ["\x00"]}), "body.response.options"),
    (
        "create",
        req(response={"type": "form", "schema": {"title": "\ud800"}}),
        "body.response.schema",
    ),
    ("patch", {"title": "\x00"}, "body.title"),
    ("patch", {"content": "\x00"}, "body.content"),
    ("patch", {"context": {"x": "\ud800"}}, "body.context"),
    ("patch", b'{"metadata": {"x": -Infinity}}', "body.metadata"),
    ("cancel", {"reason": "\x00"}, "body.reason"),
    ("decide", {"decision": "reject", "feedback": "\x00"}, "body.feedback"),
    ("decide", {"decision": "approve", "edited_content": "\ud800"}, "body.edited_content"),
    ("decide", b'{"decision": "approve", "response_data": NaN}', "body.response_data"),
    ("decide", {"decision": "approve", "content_hash": "\x00"}, "body.content_hash"),
    ("user", {"email": "a\x00@example.com", "name": "A"}, "body.email"),
    ("user", {"email": "b@example.com", "name": "\x00"}, "body.name"),
    ("user", {"email": "c@example.com", "name": "C", "password": "\x00" * 8}, "body.password"),
    ("key", {"name": "\x00", "role": "admin"}, "body.name"),
    ("key", {"name": "k", "role": "admin", "user_id": "\x00"}, "body.user_id"),
]


async def test_nasty_input_is_refused_cleanly(api: Api) -> None:
    w = await world(api)
    before = await snapshot(api)
    for route, body, field in NASTY:
        who, method, url = WRITES[route]
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()  # \ud800 escaped
        with case(f"{route} {raw[:80]!r}"):
            r = await api.as_(who, method, url.format(**w), content=raw, headers=JSON)
            assert_problem(r, 422, fields={field})
    assert await snapshot(api) == before


async def test_nasty_paths_and_queries_never_crash(api: Api) -> None:
    w = await world(api)
    cases: list[tuple[str, str, dict[str, Any], str | int]] = [
        ("admin", "/v1/loops/a%00b", {}, 422),
        ("requester", "/v1/requests/req_%00", {}, 422),
        ("requester", "/v1/requests/%ED%A0%80", {}, 404),
        ("requester", "/v1/requests", {"loop_id": "\x00"}, 422),
        ("ann", "/v1/requests", {"loop_id": "\x00"}, 422),
        ("admin", "/v1/events", {"loop_id": "\x00"}, 422),
        ("admin", "/v1/events", {"type": ["a", "\x00"]}, 422),
        ("requester", "/v1/requests?loop_id=%ED%A0%80", {}, "none"),
        ("admin", "/v1/events?request_id=%ED%A0%80", {}, "none"),
        ("admin", "/v1/events", {"after": 2**63 - 1}, "none"),
        ("admin", "/v1/requests", {"created_after": "9999-12-31T23:59:59Z"}, "none"),
        ("admin", "/v1/requests", {"created_before": "0001-01-01T00:00:00Z"}, "none"),
        ("admin", "/v1/requests", {"created_after": "0001-01-01T00:00:00+14:00"}, "all"),
        ("admin", "/v1/requests", {"created_after": "1969-01-01T00:00:00Z"}, "all"),
        ("admin", "/v1/requests", {"created_before": "9999-12-31T23:59:59-12:00"}, "all"),
    ]
    for who, url, params, expected in cases:
        with case(f"{who} {url} {params}"):
            r = await api.as_(who, "GET", url, params=params or None)
            if isinstance(expected, int):
                assert_problem(r, expected)
                continue
            assert r.status_code == 200, r.text
            ids = [x.get("request_id", x["id"]) for x in r.json()["data"]]
            assert ids == ([w["request"]] if expected == "all" else [])


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_deeply_nested_json_is_stored_or_refused_but_never_crashes(api: Api) -> None:
    w = await world(api)
    url = f"/v1/loops/{w['loop']}/requests"
    shallow = _nested(50)
    r = await api.as_("requester", "POST", url, json={"content": shallow, "content_type": "json"})
    assert r.status_code == 201, r.text[:300]
    assert r.json()["content"] == shallow
    before = await snapshot(api)
    for depth in (300, 5000, 40_000):
        deep = '{"a":' * depth + '"leaf"' + "}" * depth
        raw = f'{{"content": {deep}, "content_type": "json"}}'.encode()
        with case(depth):
            r = await api.as_("requester", "POST", url, content=raw, headers=JSON)
            assert r.status_code in (400, 422), r.text[:300]
            assert_problem(r, r.status_code)
    assert await snapshot(api) == before
