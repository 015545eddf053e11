"""People and API keys over HTTP: /v1/users and /v1/api-keys."""

from __future__ import annotations

import asyncio
import json

from signoff.domain.model import SYSTEM
from signoff.errors import Conflict
from signoff.service import users as service
from tests.api.test_errors import all_events, all_pages, assert_problem, case, snapshot
from tests.conftest import Api

USER_FIELDS = {
    "id", "email", "name", "role", "active", "has_password", "created_at", "updated_at", "notify",
    "away",
}  # fmt: skip
KEY_FIELDS = {"id", "prefix", "name", "role", "user_id", "created_at", "revoked_at"}
PASSWORD = "correct horse battery staple"


async def test_create_read_and_list_users(api: Api) -> None:
    r = await api.as_(
        "admin",
        "POST",
        "/v1/users",
        json={"email": " Ann@Example.COM ", "name": " Ann ", "role": "admin", "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    ann = r.json()
    assert set(ann) == USER_FIELDS | {"invite_url"} and ann.pop("invite_url") is None
    assert ann["id"].startswith("usr_")
    assert (ann["email"], ann["name"], ann["role"]) == ("ann@example.com", "Ann", "admin")
    assert (ann["active"], ann["has_password"]) == (True, True)
    r = await api.as_("admin", "POST", "/v1/users", json={"email": "bob@example.com", "name": "B"})
    bob = r.json()
    assert (bob["role"], bob["has_password"]) == ("reviewer", False)
    assert bob.pop("invite_url").startswith("http://testserver/invite/")
    assert (await api.as_("admin", "GET", f"/v1/users/{ann['id']}")).json() == ann
    listed = await all_pages(api, "/v1/users")
    assert [u["id"] for u in listed] == [ann["id"], bob["id"]]
    page = (await api.as_("admin", "GET", "/v1/users", params={"limit": 1})).json()
    assert [u["id"] for u in page["data"]] == [ann["id"]]
    rest = await api.as_("admin", "GET", "/v1/users", params={"cursor": page["next_cursor"]})
    assert [u["id"] for u in rest.json()["data"]] == [bob["id"]]
    events = await all_events(api, type="user.created")
    assert [e["data"]["email"] for e in events] == ["ann@example.com", "bob@example.com"]
    assert PASSWORD not in json.dumps(events) + r.text


async def test_bad_users_are_refused_naming_the_field(api: Api) -> None:
    await api.as_("admin", "POST", "/v1/users", json={"email": "ann@example.com", "name": "Ann"})
    before = await snapshot(api)
    cases = [
        ({"email": "not-an-email", "name": "X"}, "body.email"),
        ({"email": "a@b", "name": "X"}, "body.email"),
        ({"email": "", "name": "X"}, "body.email"),
        ({"email": "x@example.com", "name": ""}, "body.name"),
        ({"email": "x@example.com"}, "body.name"),
        ({"name": "X"}, "body.email"),
        ({"email": "x@example.com", "name": "X", "role": "requester"}, "body.role"),
        ({"email": "x@example.com", "name": "X", "password": "short"}, "body.password"),
        ({"email": "x@example.com", "name": "X", "admin": True}, "body.admin"),
    ]
    for body, field in cases:
        with case(body):
            r = await api.as_("admin", "POST", "/v1/users", json=body)
            assert_problem(r, 422, fields={field})
    for email in ("ann@example.com", "ANN@example.com", " ann@example.com"):
        with case(email):
            r = await api.as_("admin", "POST", "/v1/users", json={"email": email, "name": "A"})
            assert_problem(r, 409, slug="conflict")
    assert await snapshot(api) == before


async def test_patch_a_user(api: Api) -> None:
    r = await api.as_("admin", "POST", "/v1/users", json={"email": "ann@example.com", "name": "A"})
    ann = r.json()
    url = f"/v1/users/{ann['id']}"
    r = await api.as_("admin", "PATCH", url, json={"name": "Ann", "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["has_password"], r.json()["email"]) == (
        "Ann",
        True,
        "ann@example.com",
    )
    assert r.json()["updated_at"] > ann["updated_at"]
    r = await api.as_("admin", "PATCH", url, json={"password": None, "role": "admin"})
    assert (r.json()["has_password"], r.json()["role"]) == (False, "admin")
    before = await snapshot(api)
    for body, field in (
        ({"name": None}, "body.name"),
        ({"role": None}, "body.role"),
        ({"active": None}, "body.active"),
        ({"active": "no"}, "body.active"),
        ({"email": "new@example.com"}, "body.email"),
        ({"password": "short"}, "body.password"),
    ):
        with case(body):
            assert_problem(await api.as_("admin", "PATCH", url, json=body), 422, fields={field})
    assert await snapshot(api) == before
    updated = await all_events(api, type="user.updated")
    assert [e["data"]["changed"] for e in updated] == [["name", "password"], ["password", "role"]]
    assert PASSWORD not in json.dumps(updated)


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(api: Api) -> None:
    body = {"email": "ann@example.com", "name": "A", "role": "admin"}
    made = await api.as_("admin", "POST", "/v1/users", json=body)
    ann = f"/v1/users/{made.json()['id']}"
    before = await snapshot(api)
    for change in ({"role": "reviewer"}, {"active": False}, {"role": "reviewer", "active": False}):
        with case(change):
            problem = assert_problem(
                await api.as_("admin", "PATCH", ann, json=change), 409, slug="conflict"
            )
            assert "ann@example.com is the last active admin" in problem["detail"]
    assert await snapshot(api) == before
    # With a second admin, one of them may go; then the other is the last again.
    body = {"email": "bob@example.com", "name": "B", "role": "admin"}
    r = await api.as_("admin", "POST", "/v1/users", json=body)
    bob = f"/v1/users/{r.json()['id']}"
    assert (await api.as_("admin", "PATCH", ann, json={"role": "reviewer"})).status_code == 200
    assert_problem(await api.as_("admin", "PATCH", bob, json={"active": False}), 409)
    # A deactivated admin is no admin to keep: Ann back as admin, then Bob may be deactivated.
    assert (await api.as_("admin", "PATCH", ann, json={"role": "admin"})).status_code == 200
    assert (await api.as_("admin", "PATCH", bob, json={"active": False})).status_code == 200
    assert (await api.as_("admin", "PATCH", bob, json={"role": "reviewer"})).status_code == 200
    assert_problem(await api.as_("admin", "PATCH", ann, json={"active": False}), 409)
    # What leaves the admin an admin is allowed.
    ok = await api.as_("admin", "PATCH", ann, json={"name": "Ann", "active": True})
    assert ok.status_code == 200, ok.text


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(api: Api) -> None:
    """The rows of the active admins are locked before counting (PostgreSQL): without that,
    both updates count two admins and both go through."""
    for round_ in range(5):
        ids = []
        for name in ("a", "b"):
            body = {"email": f"{name}{round_}@example.com", "name": name, "role": "admin"}
            ids.append((await api.as_("admin", "POST", "/v1/users", json=body)).json()["id"])
        others = await service.list_users(api.ctx, None, 1000)
        for user in others:  # the earlier rounds' last admins step aside
            if user.id not in ids and user.active:
                await service.update_user(api.ctx, SYSTEM, user.id, {"active": False})
        outcomes = await asyncio.gather(
            *(service.update_user(api.ctx, SYSTEM, i, {"role": "reviewer"}) for i in ids),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, Conflict)]
        assert len(refused) == 1, outcomes
        users = await service.list_users(api.ctx, None, 1000)
        assert [u.id for u in users if u.role.value == "admin" and u.active] != []


async def test_a_deactivated_users_keys_stop_working_until_reactivated(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    assert (await api.as_("ann", "GET", "/v1/loops")).status_code == 200
    await api.as_("admin", "PATCH", f"/v1/users/{ann}", json={"active": False})
    assert_problem(await api.as_("ann", "GET", "/v1/loops"), 401, slug="unauthenticated")
    await api.as_("admin", "PATCH", f"/v1/users/{ann}", json={"active": True})
    assert (await api.as_("ann", "GET", "/v1/loops")).status_code == 200


async def test_a_key_is_shown_once_and_works_for_its_role(api: Api) -> None:
    r = await api.as_("admin", "POST", "/v1/api-keys", json={"name": "ci", "role": "requester"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == KEY_FIELDS | {"key"}
    assert created["id"].startswith("key_")
    assert created["key"].startswith(f"sk_{created['prefix']}_")
    assert (created["name"], created["role"], created["user_id"], created["revoked_at"]) == (
        "ci",
        "requester",
        None,
        None,
    )
    headers = {"authorization": f"Bearer {created['key']}"}
    assert (await api.client.get("/v1/requests", headers=headers)).status_code == 200
    assert_problem(await api.client.get("/v1/users", headers=headers), 403)
    listed = await all_pages(api, "/v1/api-keys")
    mine = next(k for k in listed if k["id"] == created["id"])
    assert mine == {k: v for k, v in created.items() if k != "key"}
    texts = [json.dumps(listed), json.dumps(await all_events(api))]
    assert all(created["key"] not in text for text in texts)
    secret = created["key"].split("_", 2)[2]
    assert all(secret not in text for text in texts)


async def test_key_rules(api: Api) -> None:
    ann = await api.add_reviewer("ann")
    r = await api.as_(
        "admin",
        "POST",
        "/v1/users",
        json={"email": "boss@example.com", "name": "B", "role": "admin"},
    )
    boss = r.json()["id"]
    before = await snapshot(api)
    for body, field in (
        ({"name": "k", "role": "reviewer"}, "body.user_id"),
        ({"name": "k", "role": "admin", "user_id": ann}, "body.role"),
        (
            {"name": "k", "role": "requester", "user_id": "usr_01J00000000000000000000000"},
            "body.user_id",
        ),
        ({"name": "k", "role": "root"}, "body.role"),
        ({"name": "", "role": "admin"}, "body.name"),
        ({"role": "admin"}, "body.name"),
        ({"name": "k", "role": "admin", "scopes": ["*"]}, "body.scopes"),
    ):
        with case(body):
            r = await api.as_("admin", "POST", "/v1/api-keys", json=body)
            assert_problem(r, 422, fields={field})
    assert await snapshot(api) == before
    for body in (
        {"name": "k", "role": "reviewer", "user_id": ann},
        {"name": "k", "role": "admin", "user_id": boss},
        {"name": "k", "role": "requester", "user_id": ann},
    ):
        with case(body):
            r = await api.as_("admin", "POST", "/v1/api-keys", json=body)
            assert r.status_code == 201, r.text
            assert r.json()["user_id"] == body["user_id"]


async def test_revoking_a_key(api: Api) -> None:
    r = await api.as_("admin", "POST", "/v1/api-keys", json={"name": "ci", "role": "admin"})
    created = r.json()
    url = f"/v1/api-keys/{created['id']}"
    r = await api.as_("admin", "DELETE", url)
    assert r.status_code == 200, r.text
    revoked = r.json()
    assert set(revoked) == KEY_FIELDS
    assert revoked["revoked_at"] is not None
    headers = {"authorization": f"Bearer {created['key']}"}
    assert_problem(await api.client.get("/v1/loops", headers=headers), 401)
    # Revoking again changes nothing and says so with the same answer.
    before = await snapshot(api)
    again = await api.as_("admin", "DELETE", url)
    assert (again.status_code, again.json()) == (200, revoked)
    assert await snapshot(api) == before
    assert len(await all_events(api, type="api_key.revoked")) == 1
    listed = {k["id"]: k for k in await all_pages(api, "/v1/api-keys")}
    assert listed[created["id"]]["revoked_at"] == revoked["revoked_at"]
