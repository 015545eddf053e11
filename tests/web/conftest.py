"""Web app tests over HTTP (httpx against the app, on SQLite and PostgreSQL) and in a real
browser (Playwright driving Debian's Chromium against a `signoff serve` subprocess)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from signoff.app import create_app
from signoff.domain.model import SYSTEM, Role, UserRole
from signoff.service.context import Context
from signoff.service.loops import LoopDraft, create_loop
from signoff.service.passwords import set_password
from signoff.service.users import create_key, create_user
from tests.web.browser import chromium, live_site
from tests.web.support import PASSWORD

__all__ = ["chromium", "live_site"]  # fixtures of the browser tests, one browser for all


@dataclass
class Site:
    """The whole app over httpx, with an admin key for the API and helpers to make people."""

    ctx: Context
    app: object
    admin_key: str

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def person(self, name: str, role: UserRole = UserRole.reviewer) -> str:
        user = await create_user(self.ctx, SYSTEM, f"{name}@example.com", name.title(), role, None)
        await set_password(self.ctx, SYSTEM, user.id, PASSWORD)
        return user.id

    async def loop(self, name: str, reviewers: list[str], approvals: int = 1) -> str:
        loop = await create_loop(
            self.ctx,
            SYSTEM,
            LoopDraft(name=name, reviewers=tuple(reviewers), required_approvals=approvals),
        )
        return loop.id

    async def create(self, loop_id: str, **body: object) -> dict[str, object]:
        async with self.client() as api:
            response = await api.post(
                f"/v1/loops/{loop_id}/requests",
                json={"content": "hello", **body},
                headers={"Authorization": f"Bearer {self.admin_key}"},
            )
        assert response.status_code == 201, response.text
        result: dict[str, object] = response.json()
        return result

    async def response_of(self, request_id: str) -> dict[str, object]:
        async with self.client() as api:
            response = await api.get(
                f"/v1/requests/{request_id}/response",
                headers={"Authorization": f"Bearer {self.admin_key}"},
            )
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result


@pytest.fixture
async def site(ctx: Context) -> AsyncIterator[Site]:
    app = create_app(ctx, max_body_bytes=256 * 1024)
    key = (await create_key(ctx, SYSTEM, "admin", Role.admin, None)).secret
    yield Site(ctx, app, key)
