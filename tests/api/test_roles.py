"""Every route checks the caller: walked from the app's own routes, so a new one cannot slip by.

For each route and each caller (an admin, a requester and a reviewer key; no key, malformed
keys, an unknown, a revoked and a deactivated user's key): 401 without a valid key, 403 for a
role the route is not for, and the route's own success otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import fastapi.routing
from starlette.routing import BaseRoute

from signoff.api.app import create_api
from tests.api.test_errors import assert_problem, case, snapshot
from tests.api.test_requests import skip_url_checks
from tests.conftest import Api

ROLES = ("admin", "requester", "reviewer")
PUBLIC = frozenset({"public"})
ALL = frozenset(ROLES)
ADMIN = frozenset({"admin"})
WRITERS = frozenset({"admin", "requester"})
VOTERS = frozenset({"admin", "reviewer"})


@dataclass(frozen=True)
class Rule:
    """Who may call a route, what it answers them, and what a call needs."""

    allowed: frozenset[str]
    ok: int = 200
    body: Any = None
    fresh: tuple[str, ...] = ()  # path parameters an allowed call must not share with another


_n = itertools.count()
IDS: dict[str, str] = {}  # the World's ids, for bodies that name one


def _name() -> str:
    return f"n{next(_n)}"


RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(PUBLIC),
    ("GET", "/readyz"): Rule(PUBLIC),
    ("GET", "/openapi.json"): Rule(PUBLIC),
    ("POST", "/v1/loops"): Rule(ADMIN, 201, body=lambda: {"name": _name()}),
    ("GET", "/v1/loops"): Rule(ALL),
    ("GET", "/v1/loops/{loop_id}"): Rule(ALL),
    ("PATCH", "/v1/loops/{loop_id}"): Rule(ADMIN, body=lambda: {"description": _name()}),
    ("DELETE", "/v1/loops/{loop_id}"): Rule(ADMIN, 204, fresh=("loop_id",)),
    ("POST", "/v1/loops/{loop_id}/simulate"): Rule(WRITERS, body=lambda: {"content": "c"}),
    ("POST", "/v1/loops/{loop_id}/requests"): Rule(WRITERS, 201, body=lambda: {"content": "c"}),
    ("POST", "/v1/loops/{loop_id}/requests/batch"): Rule(
        WRITERS, 201, body=lambda: {"items": [{"content": "c"}]}
    ),
    ("GET", "/v1/requests"): Rule(ALL),
    ("GET", "/v1/requests/{request_id}"): Rule(ALL),
    ("PATCH", "/v1/requests/{request_id}"): Rule(WRITERS, body=lambda: {"content": _name()}),
    ("POST", "/v1/requests/{request_id}/cancel"): Rule(WRITERS, fresh=("request_id",)),
    ("GET", "/v1/requests/{request_id}/status"): Rule(ALL),
    ("GET", "/v1/requests/{request_id}/response"): Rule(ALL),
    ("POST", "/v1/requests/{request_id}/decisions"): Rule(
        VOTERS, 201, body=lambda: {"decision": "approve"}, fresh=("request_id",)
    ),
    ("GET", "/v1/requests/{request_id}/events"): Rule(ALL),
    ("POST", "/v1/requests/{request_id}/review-links"): Rule(
        WRITERS, 201, body=lambda: {"user_id": IDS["ann"]}
    ),
    ("GET", "/v1/requests/{request_id}/review-links"): Rule(WRITERS),
    ("DELETE", "/v1/requests/{request_id}/review-links/{link_id}"): Rule(
        WRITERS, fresh=("link_id",)
    ),
    ("POST", "/v1/requests/{request_id}/claim"): Rule(VOTERS, fresh=("request_id",)),
    ("DELETE", "/v1/requests/{request_id}/claim"): Rule(VOTERS),
    ("POST", "/v1/requests/{request_id}/assign"): Rule(
        ADMIN, body=lambda: {"user_id": "{user_id}"}, fresh=("request_id",)
    ),
    # A reviewer may set only their own; the world's user is someone else.
    ("PUT", "/v1/users/{user_id}/away"): Rule(ADMIN, body=lambda: {}),
    ("DELETE", "/v1/users/{user_id}/away"): Rule(ADMIN),
    ("GET", "/v1/events"): Rule(WRITERS),
    ("POST", "/v1/users"): Rule(
        ADMIN, 201, body=lambda: {"email": f"{_name()}@example.com", "name": "N"}
    ),
    ("GET", "/v1/users"): Rule(ADMIN),
    ("POST", "/v1/users/{user_id}/invite"): Rule(ADMIN, 201),
    ("GET", "/v1/users/{user_id}"): Rule(ADMIN),
    ("PATCH", "/v1/users/{user_id}"): Rule(ADMIN, body=lambda: {"name": _name()}),
    ("POST", "/v1/api-keys"): Rule(ADMIN, 201, body=lambda: {"name": "k", "role": "requester"}),
    ("GET", "/v1/api-keys"): Rule(ADMIN),
    ("DELETE", "/v1/api-keys/{key_id}"): Rule(ADMIN, fresh=("key_id",)),
    ("POST", "/v1/webhooks"): Rule(
        WRITERS, 201, body=lambda: {"url": "https://hooks.example.invalid/new"}
    ),
    ("GET", "/v1/webhooks"): Rule(WRITERS),
    ("GET", "/v1/webhooks/callback-secret"): Rule(WRITERS),
    ("GET", "/v1/webhooks/{webhook_id}"): Rule(WRITERS),
    ("PATCH", "/v1/webhooks/{webhook_id}"): Rule(WRITERS, body=lambda: {"description": _name()}),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Rule(WRITERS, 204, fresh=("webhook_id",)),
    ("POST", "/v1/webhooks/{webhook_id}/test"): Rule(WRITERS, 202),
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): Rule(WRITERS),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Rule(WRITERS),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries/{message_id}"): Rule(WRITERS),
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{message_id}/retry"): Rule(WRITERS, 202),
    ("POST", "/v1/webhooks/{webhook_id}/recover"): Rule(
        WRITERS, 202, body=lambda: {"since": "2020-01-01T00:00:00Z"}
    ),
}


def routes_of(routes: list[BaseRoute]) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD aside (Starlette adds it to GETs).

    Newer FastAPI keeps included routers whole in `app.routes`; `iter_route_contexts` opens them.
    """
    opened = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in opened(routes) if opened else routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, str(route.path)


def served(api: Api) -> set[tuple[str, str]]:
    return set(routes_of(create_api(api.ctx, max_body_bytes=1).routes))


@dataclass
class World:
    """The things the routes act on, and a way to make fresh ones."""

    api: Api
    ids: dict[str, str] = field(default_factory=dict)

    async def _post(self, who: str, url: str, body: object) -> dict[str, Any]:
        r = await self.api.as_(who, "POST", url, json=body)
        assert r.status_code in (201, 202), r.text
        return r.json() if r.content else {}  # type: ignore[no-any-return]

    async def make(self, name: str) -> str:
        if name == "loop_id":
            body = {"name": _name(), "reviewers": [self.ids["ann"]]}
            return str((await self._post("admin", "/v1/loops", body))["id"])
        if name == "request_id":
            url = f"/v1/loops/{self.ids['loop_id']}/requests"
            return str((await self._post("requester", url, {"content": "c"}))["id"])
        if name == "link_id":
            url = f"/v1/requests/{self.ids['request_id']}/review-links"
            return str((await self._post("admin", url, {"user_id": self.ids["ann"]}))["id"])
        if name == "user_id":
            body = {"email": f"{_name()}@example.com", "name": "U"}
            return str((await self._post("admin", "/v1/users", body))["id"])
        if name == "key_id":
            body = {"name": "k", "role": "requester"}
            return str((await self._post("admin", "/v1/api-keys", body))["id"])
        if name == "webhook_id":
            body = {"url": "https://hooks.example.invalid/a"}
            return str((await self._post("requester", "/v1/webhooks", body))["id"])
        if name == "message_id":
            webhook = self.ids["webhook_id"]
            await self._post("admin", f"/v1/webhooks/{webhook}/test", None)
            r = await self.api.as_("admin", "GET", f"/v1/webhooks/{webhook}/deliveries")
            return str(r.json()["data"][0]["id"])
        raise AssertionError(f"no way to make a {name}")

    @classmethod
    async def build(cls, api: Api) -> World:
        skip_url_checks(api)  # the webhook URLs here need not resolve
        world = cls(api, {"ann": await api.add_reviewer("ann")})
        api.keys["reviewer"] = api.keys["ann"]
        for name in (
            "loop_id",
            "request_id",
            "link_id",
            "user_id",
            "key_id",
            "webhook_id",
            "message_id",
        ):
            world.ids[name] = await world.make(name)
        IDS.clear()
        IDS.update(world.ids)
        return world

    def body(self, rule: Rule) -> Any:
        """The rule's body, with `{name}` in its string values standing for the world's ids."""
        body = rule.body() if rule.body else None
        if isinstance(body, dict):
            return {k: v.format(**self.ids) if isinstance(v, str) else v for k, v in body.items()}
        return body

    async def url(self, path: str, fresh: tuple[str, ...] = ()) -> str:
        ids = dict(self.ids)
        for name in fresh:
            ids[name] = await self.make(name)
        return path.format(**ids)


async def bad_keys(api: Api) -> dict[str, dict[str, str]]:
    """Authorization headers that must all get a 401."""
    r = await api.as_("admin", "POST", "/v1/api-keys", json={"name": "gone", "role": "admin"})
    revoked = r.json()
    assert (await api.as_("admin", "DELETE", f"/v1/api-keys/{revoked['id']}")).status_code == 200
    r = await api.as_("admin", "POST", "/v1/users", json={"email": "x@example.com", "name": "X"})
    user = r.json()["id"]
    r = await api.as_(
        "admin", "POST", "/v1/api-keys", json={"name": "x", "role": "reviewer", "user_id": user}
    )
    inactive = r.json()["key"]
    r = await api.as_("admin", "PATCH", f"/v1/users/{user}", json={"active": False})
    assert r.status_code == 200
    admin = api.keys["admin"]
    return {
        "missing": {},
        "empty": {"authorization": ""},
        "no token": {"authorization": "Bearer "},
        "not a key": {"authorization": "Bearer let-me-in"},
        "unknown key": {"authorization": "Bearer sk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAA"},
        "wrong secret": {"authorization": f"Bearer {admin[:-4]}AAAA"},
        "wrong scheme": {"authorization": f"Basic {admin}"},
        "no scheme": {"authorization": admin},
        "revoked": {"authorization": f"Bearer {revoked['key']}"},
        "deactivated user": {"authorization": f"Bearer {inactive}"},
    }  # fmt: skip


async def test_every_route_has_a_rule(api: Api) -> None:
    """A route added without deciding who may call it fails here first."""
    routes = served(api)
    assert routes - RULES.keys() == set(), "routes without a rule in RULES"
    assert RULES.keys() - routes == set(), "rules for routes the app does not serve"


async def test_every_route_refuses_callers_without_a_valid_key_or_the_right_role(
    api: Api,
) -> None:
    world = await World.build(api)
    keys = await bad_keys(api)
    before = await snapshot(api)
    for method, path in sorted(served(api)):
        rule = RULES[(method, path)]
        if rule.allowed == PUBLIC:
            continue
        url = await world.url(path)
        body = world.body(rule)
        for name, headers in keys.items():
            with case(f"{method} {path} with {name} key"):
                r = await api.client.request(method, url, json=body, headers=headers)
                assert_problem(r, 401, slug="unauthenticated")
        for role in sorted(ALL - rule.allowed):
            with case(f"{method} {path} as {role}"):
                r = await api.as_(role, method, url, json=body)
                assert_problem(r, 403, slug="forbidden")
    assert await snapshot(api) == before


async def test_every_route_answers_the_roles_it_is_for(api: Api) -> None:
    world = await World.build(api)
    keys = await bad_keys(api)
    for method, path in sorted(served(api)):
        rule = RULES[(method, path)]
        callers = ALL if rule.allowed == PUBLIC else rule.allowed
        for role in sorted(callers):
            with case(f"{method} {path} as {role}"):
                url = await world.url(path, rule.fresh)
                body = world.body(rule)
                r = await api.as_(role, method, url, json=body)
                assert r.status_code == rule.ok, r.text[:300]
        if rule.allowed == PUBLIC:
            for name, headers in keys.items():
                with case(f"{method} {path} with {name} key"):
                    r = await api.client.request(method, await world.url(path), headers=headers)
                    assert r.status_code == 200, r.text[:300]


async def test_a_reviewer_sees_and_decides_only_the_loops_it_belongs_to(api: Api) -> None:
    ann, bob = await api.add_reviewer("ann"), await api.add_reviewer("bob")
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": "a", "reviewers": [ann]})
    loop = r.json()["id"]
    r = await api.as_("requester", "POST", f"/v1/loops/{loop}/requests", json={"content": "c"})
    request = r.json()["id"]
    before = await snapshot(api)
    for method, url in (
        ("GET", f"/v1/loops/{loop}"),
        ("GET", f"/v1/requests/{request}"),
        ("GET", f"/v1/requests/{request}/status"),
        ("GET", f"/v1/requests/{request}/response"),
        ("GET", f"/v1/requests/{request}/events"),
        ("POST", f"/v1/requests/{request}/decisions"),
    ):
        body = {"decision": "approve"} if method == "POST" else None
        with case(f"{method} {url}"):
            assert_problem(await api.as_("bob", method, url, json=body), 403, slug="forbidden")
            if method == "GET":
                assert (await api.as_("ann", "GET", url)).status_code == 200
    assert (await api.as_("bob", "GET", "/v1/loops")).json()["data"] == []
    assert (await api.as_("bob", "GET", "/v1/requests")).json()["data"] == []
    r = await api.as_("bob", "GET", "/v1/requests", params={"loop_id": loop})
    assert r.json()["data"] == []
    assert await snapshot(api) == before
    # Added to the loop, bob sees it at once; removed, he no longer does.
    await api.as_("admin", "PATCH", f"/v1/loops/{loop}", json={"reviewers": [ann, bob]})
    assert (await api.as_("bob", "GET", f"/v1/requests/{request}")).status_code == 200
    assert [x["id"] for x in (await api.as_("bob", "GET", "/v1/requests")).json()["data"]] == [
        request
    ]
    await api.as_("admin", "PATCH", f"/v1/loops/{loop}", json={"reviewers": [ann]})
    assert_problem(await api.as_("bob", "GET", f"/v1/requests/{request}"), 403)


async def test_a_revoked_key_stops_working_at_once(api: Api) -> None:
    r = await api.as_("admin", "POST", "/v1/api-keys", json={"name": "ci", "role": "requester"})
    key = r.json()
    headers = {"authorization": f"Bearer {key['key']}"}
    assert (await api.client.get("/v1/requests", headers=headers)).status_code == 200
    assert (await api.as_("admin", "DELETE", f"/v1/api-keys/{key['id']}")).status_code == 200
    body = assert_problem(await api.client.get("/v1/requests", headers=headers), 401)
    assert key["prefix"] in body["detail"]
    assert key["key"] not in body["detail"]
