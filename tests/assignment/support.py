"""Helpers for the assignment tests: a movable clock, a team of reviewers, loops and requests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.test_errors import all_events, all_pages
from tests.conftest import Api

START = datetime(2026, 11, 22, 9, tzinfo=UTC)


class Clock:
    """The service's clock, moved by the test instead of sleeping."""

    def __init__(self, api: Api) -> None:
        self.now = START
        api.ctx.clock = self

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def team(api: Api, *names: str) -> dict[str, str]:
    """Reviewer users with keys under their names; answers name → user id."""
    return {name: await api.add_reviewer(name) for name in names}


async def loop(api: Api, reviewers: Iterable[str], assignment: str, **fields: Any) -> str:
    body = {"name": f"loop-{assignment}-{len(fields)}", "reviewers": list(reviewers)}
    r = await api.as_(
        "admin", "POST", "/v1/loops", json={**body, "assignment": assignment, **fields}
    )
    assert r.status_code == 201, r.text
    assert r.json()["assignment"] == assignment
    return str(r.json()["id"])


async def create(api: Api, loop_id: str, **fields: Any) -> dict[str, Any]:
    body = {"content": "Refund $120 to Bob", **fields}
    r = await api.as_("requester", "POST", f"/v1/loops/{loop_id}/requests", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def assignees(request: dict[str, Any]) -> list[str]:
    return [a["user_id"] for a in request["assignees"]]


async def read(api: Api, request_id: str, who: str = "admin") -> dict[str, Any]:
    r = await api.as_(who, "GET", f"/v1/requests/{request_id}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def assigned_to(api: Api, user_id: str, who: str = "admin") -> list[str]:
    """Ids of the requests the list shows for `?assignee=user_id`."""
    found = await all_pages(api, "/v1/requests", who, {"assignee": user_id})
    return [r["id"] for r in found]


async def assigned_events(api: Api) -> list[dict[str, Any]]:
    return [e["data"] for e in await all_events(api, type="request.assigned")]


async def decide(api: Api, who: str, request_id: str, decision: str = "approve") -> Any:
    body: dict[str, Any] = {"decision": decision}
    if decision != "approve":
        body["feedback"] = "no"
    return await api.as_(who, "POST", f"/v1/requests/{request_id}/decisions", json=body)
