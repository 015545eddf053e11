"""Loops over HTTP: create, list, read, update, delete, and the rules that guard them."""

from __future__ import annotations

from tests.api.test_errors import all_pages, assert_problem, case, events_of_type, snapshot
from tests.conftest import Api


async def new_loop(api: Api, name: str = "payments", **fields: object) -> dict[str, object]:
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": name, **fields})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_create_answers_every_field_and_reads_back_the_same(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    body = {
        "name": "  payments  ",
        "description": "Refunds over $100",
        "reviewers": [bob, ann],
        "required_approvals": 2,
        "allow_self_approval": True,
        "default_timeout_seconds": 3600,
        "allow_timeout_approval": True,
    }
    r = await api.as_("admin", "POST", "/v1/loops", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"].startswith("loop_")
    assert {k: created[k] for k in body} == {**body, "name": "payments"}
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")
    again = await api.as_("admin", "GET", f"/v1/loops/{created['id']}")
    assert again.status_code == 200
    assert again.json() == created
    [event] = await events_of_type(api, "loop.created")
    assert event["loop_id"] == created["id"]
    assert event["data"]["reviewers"] == [bob, ann]


async def test_defaults_of_a_minimal_loop(api: Api) -> None:
    created = await new_loop(api)
    assert {k: v for k, v in created.items() if k not in ("id", "created_at", "updated_at")} == {
        "name": "payments",
        "description": "",
        "reviewers": [],
        "required_approvals": 1,
        "allow_self_approval": False,
        "default_timeout_seconds": None,
        "allow_timeout_approval": False,
        "default_timeout_action": "expire",
        "pickup_timeout_seconds": None,
        "reminders": [],
        "escalation": [],
        "rules": [],
        "stages": [],
        "assignment": "open",
    }


async def test_list_pages_through_every_loop_once_in_id_order(api: Api) -> None:
    ids = [str((await new_loop(api, f"loop-{i:02}"))["id"]) for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = await api.as_("requester", "GET", "/v1/loops", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"data", "next_cursor"}
        assert len(page["data"]) <= 3
        seen += [lp["id"] for lp in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 3
    exact = await api.as_("admin", "GET", "/v1/loops", params={"limit": 7})
    assert exact.json()["next_cursor"] is None


async def test_a_reviewer_lists_and_reads_only_its_own_loops(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    await api.add_reviewer("bob")
    mine = await new_loop(api, "mine", reviewers=[ann])
    other = await new_loop(api, "other")
    listed = (await api.as_("ann", "GET", "/v1/loops")).json()["data"]
    assert [lp["id"] for lp in listed] == [mine["id"]]
    assert (await api.as_("ann", "GET", f"/v1/loops/{mine['id']}")).status_code == 200
    assert_problem(await api.as_("ann", "GET", f"/v1/loops/{other['id']}"), 403)
    assert (await api.as_("bob", "GET", "/v1/loops")).json() == {"data": [], "next_cursor": None}


async def test_patch_changes_only_the_given_fields(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    loop = await new_loop(api, reviewers=[ann], description="old", default_timeout_seconds=60)
    url = f"/v1/loops/{loop['id']}"
    r = await api.as_(
        "admin", "PATCH", url, json={"reviewers": [bob, ann], "required_approvals": 2}
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["reviewers"] == [bob, ann]
    assert patched["required_approvals"] == 2
    assert patched["description"] == "old"
    assert patched["default_timeout_seconds"] == 60
    assert patched["updated_at"] >= loop["updated_at"]
    assert (await api.as_("admin", "GET", url)).json() == patched

    # A nullable field may be cleared with an explicit null.
    cleared = await api.as_("admin", "PATCH", url, json={"default_timeout_seconds": None})
    assert cleared.status_code == 200
    assert cleared.json()["default_timeout_seconds"] is None

    # Reviewers can be emptied, and the reviewer who left loses access at once.
    emptied = await api.as_("admin", "PATCH", url, json={"reviewers": []})
    assert emptied.json()["reviewers"] == []
    assert_problem(await api.as_("ann", "GET", url), 403)

    [*_, updated] = await events_of_type(api, "loop.updated")
    assert updated["data"]["changed"] == ["reviewers"]
    assert updated["data"]["before"]["reviewers"] == [bob, ann]


NOT_NULL = [
    "name",
    "description",
    "reviewers",
    "required_approvals",
    "allow_self_approval",
    "allow_timeout_approval",
]


async def test_patch_with_null_for_a_non_nullable_field_is_a_422(api: Api) -> None:
    loop = await new_loop(api)
    before = await snapshot(api)
    for field in NOT_NULL:
        with case(field):
            r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={field: None})
            assert_problem(r, 422, fields={f"body.{field}"})
    assert await snapshot(api) == before


BAD_FIELDS: list[tuple[dict[str, object], str]] = [
    ({"name": ""}, "body.name"),
    ({"name": "   "}, "body.name"),
    ({"name": "x" * 201}, "body.name"),
    ({"name": 7}, "body.name"),
    ({"description": "d" * 10_001}, "body.description"),
    ({"required_approvals": 0}, "body.required_approvals"),
    ({"required_approvals": 101}, "body.required_approvals"),
    ({"required_approvals": "two"}, "body.required_approvals"),
    ({"required_approvals": "2"}, "body.required_approvals"),
    ({"default_timeout_seconds": 0}, "body.default_timeout_seconds"),
    ({"default_timeout_seconds": 60.0}, "body.default_timeout_seconds"),
    ({"allow_self_approval": "maybe"}, "body.allow_self_approval"),
    ({"allow_self_approval": "yes"}, "body.allow_self_approval"),
    ({"allow_timeout_approval": 1}, "body.allow_timeout_approval"),
    ({"reviewers": "usr_x"}, "body.reviewers"),
    ({"reviewers": [1]}, "body.reviewers.0"),
    ({"colour": "red"}, "body.colour"),
]


async def test_bad_loop_fields_are_named(api: Api) -> None:
    loop = await new_loop(api)
    before = await snapshot(api)
    for body, field in BAD_FIELDS:
        with case(body):
            created = await api.as_("admin", "POST", "/v1/loops", json={"name": "other", **body})
            assert_problem(created, 422, fields={field})
            patched = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json=body)
            assert_problem(patched, 422, fields={field})
    assert await snapshot(api) == before


async def test_unknown_or_repeated_reviewers_are_a_422_and_change_nothing(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    before = await snapshot(api)
    ghost = "usr_01J00000000000000000000000"
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": "x", "reviewers": [ann, ghost]})
    body = assert_problem(r, 422, fields={"body.reviewers"})
    assert ghost in body["detail"]
    r = await api.as_("admin", "PATCH", f"/v1/loops/{loop['id']}", json={"reviewers": [ghost]})
    assert_problem(r, 422, fields={"body.reviewers"})
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": "x", "reviewers": [ann, ann]})
    assert_problem(r, 422, fields={"body.reviewers"})
    # A PATCH that fails on its reviewers changes none of its other fields either.
    r = await api.as_(
        "admin",
        "PATCH",
        f"/v1/loops/{loop['id']}",
        json={"description": "new", "reviewers": [ghost]},
    )
    assert_problem(r, 422, fields={"body.reviewers"})
    assert await snapshot(api) == before


async def test_names_are_unique_among_live_loops(api: Api) -> None:
    first = await new_loop(api, "payments")
    second = await new_loop(api, "refunds")
    before = await snapshot(api)
    assert_problem(
        await api.as_("admin", "POST", "/v1/loops", json={"name": "payments"}), 409, slug="conflict"
    )
    assert_problem(await api.as_("admin", "POST", "/v1/loops", json={"name": " payments "}), 409)
    renamed = await api.as_(
        "admin", "PATCH", f"/v1/loops/{second['id']}", json={"name": "payments"}
    )
    assert_problem(renamed, 409)
    assert await snapshot(api) == before
    # Renaming a loop to its own name is no conflict.
    same = await api.as_("admin", "PATCH", f"/v1/loops/{first['id']}", json={"name": "payments"})
    assert same.status_code == 200
    # A deleted loop's name is free again.
    assert (await api.as_("admin", "DELETE", f"/v1/loops/{first['id']}")).status_code == 204
    reused = await new_loop(api, "payments")
    assert reused["id"] != first["id"]


async def test_delete_removes_the_loop_from_every_answer(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    url = f"/v1/loops/{loop['id']}"
    r = await api.as_("admin", "DELETE", url)
    assert r.status_code == 204
    assert r.content == b""
    assert_problem(await api.as_("admin", "GET", url), 404, slug="not-found")
    assert_problem(await api.as_("admin", "PATCH", url, json={"description": "x"}), 404)
    assert_problem(await api.as_("admin", "DELETE", url), 404)
    r = await api.as_("requester", "POST", f"{url}/requests", json={"content": "x"})
    assert_problem(r, 404)
    assert await all_pages(api, "/v1/loops") == []
    assert (await api.as_("ann", "GET", "/v1/loops")).json()["data"] == []
    [event] = await events_of_type(api, "loop.deleted")
    assert event["loop_id"] == loop["id"]


async def test_a_loop_with_pending_requests_cannot_be_deleted(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    loop = await new_loop(api, reviewers=[ann])
    url = f"/v1/loops/{loop['id']}"
    r = await api.as_("requester", "POST", f"{url}/requests", json={"content": "x"})
    request_id = r.json()["id"]
    before = await snapshot(api)
    body = assert_problem(await api.as_("admin", "DELETE", url), 409, slug="conflict")
    assert "pending" in body["detail"]
    assert await snapshot(api) == before
    # Once nothing is pending any more, the loop can go; its decided requests stay readable.
    cancel = await api.as_("requester", "POST", f"/v1/requests/{request_id}/cancel")
    assert cancel.status_code == 200
    assert (await api.as_("admin", "DELETE", url)).status_code == 204
    kept = await api.as_("requester", "GET", f"/v1/requests/{request_id}")
    assert kept.status_code == 200
    assert kept.json()["status"] == "cancelled"
