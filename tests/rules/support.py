"""Shortcuts for the rules and stages tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


async def new_loop(api: Api, name: str = "payments", **body: Any) -> dict[str, Any]:
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": name, **body})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def new_request(api: Api, loop_id: str, **body: Any) -> dict[str, Any]:
    r = await api.as_(
        "requester", "POST", f"/v1/loops/{loop_id}/requests", json={"content": "Pay", **body}
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def vote(api: Api, who: str, request_id: str, **ballot: Any) -> Any:
    return await api.as_(
        who, "POST", f"/v1/requests/{request_id}/decisions", json={"decision": "approve", **ballot}
    )


async def events_of(api: Api, request_id: str) -> list[dict[str, Any]]:
    r = await api.as_("admin", "GET", f"/v1/requests/{request_id}/events")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]
    return found


def shown(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as the API shows it: every action's argument, null where it takes none."""
    return {"loop_id": None, "approvals": None, "priority": None, "timeout_seconds": None, **rule}
