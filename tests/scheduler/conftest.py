"""Scheduler tests move a clock instead of sleeping.

`clock` is the one clock of the context (`ctx.clock`): every transaction, every timer and the
scheduler's sleeps read it. `later(seconds)` moves it, wakes the scheduler, and returns once
every timer due by then has fired (the timers table holds none due), so a test reads the
outcome at once and a timer not due yet is proved not to have fired.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signoff.app import Runtime, build_context
from signoff.config import Settings
from signoff.service import timeouts
from signoff.service.context import Context
from tests.api.test_errors import all_events
from tests.conftest import Api

WAIT = 10.0


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, allow_private_urls=True)


@pytest.fixture
async def ctx(settings: Settings, clock: Clock) -> AsyncIterator[Context]:
    context = build_context(settings, "http://testserver")
    context.clock = clock
    async with Runtime(context, settings).running() as running:
        yield running


async def settled(ctx: Context, clock: Clock, wait: float = WAIT) -> None:
    """Return once no timer due by `clock` is left (each firing deletes its timer)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        due = await timeouts.next_due(ctx)
        if due is None or due > clock():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timers due at {due} did not fire within {wait} s")
        await asyncio.sleep(0.01)


@pytest.fixture
def later(ctx: Context, clock: Clock) -> Callable[[float], Awaitable[None]]:
    async def move(seconds: float) -> None:
        clock.advance(seconds)
        ctx.wake_scheduler(None)
        await settled(ctx, clock)

    return move


async def request_events(api: Api, request_id: str) -> list[dict[str, Any]]:
    r = await api.as_("admin", "GET", f"/v1/requests/{request_id}/events")
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def of_type(api: Api, type_: str) -> list[dict[str, Any]]:
    return await all_events(api, type=type_)


async def new_loop(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": f"loop-{fields.pop('name', 'a')}", **fields}
    r = await api.as_("admin", "POST", "/v1/loops", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def ask(api: Api, loop_id: str, **fields: Any) -> dict[str, Any]:
    body = {"content": "refund $120 to order 1182?", "title": "Refund 1182", **fields}
    r = await api.as_("requester", "POST", f"/v1/loops/{loop_id}/requests", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def read(api: Api, request_id: str, who: str = "admin") -> dict[str, Any]:
    r = await api.as_(who, "GET", f"/v1/requests/{request_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())
