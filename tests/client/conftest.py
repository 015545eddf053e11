"""The SDK against the real thing: one `signoff serve` for the session (its own process, its
own data folder), an admin key it printed, a reviewer made through the API, and a fresh loop
per test so that tests do not see each other's requests."""

from __future__ import annotations

import itertools
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from signoff.client import AsyncClient, Client, Loop
from tests.integration.server import Server, serve, signoff_env

_names = itertools.count()
FAST = {"retries": 3, "backoff": 0.02, "max_backoff": 0.1}


@dataclass(frozen=True)
class Live:
    server: Server
    admin_key: str
    reviewer_id: str
    reviewer_key: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return int(urllib.parse.urlsplit(self.url).port or 0)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("sdk")
    env = signoff_env(data_dir=str(root / "data"), allow_private_urls="true")
    with serve(env, root / "logs") as server:
        key = server.first_key()
        assert key, server.stdout
        with Client(server.url, key) as admin:
            ann = admin.create_user("ann@example.com", "Ann", role="reviewer")
            ann_key = admin.create_api_key("ann", "reviewer", user_id=ann.id).key
        assert ann_key
        yield Live(server, key, ann.id, ann_key)


@pytest.fixture
def admin(live: Live) -> Iterator[Client]:
    with Client(live.url, live.admin_key, **FAST) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
def reviewer(live: Live) -> Iterator[Client]:
    with Client(live.url, live.reviewer_key, **FAST) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
async def aadmin(live: Live) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, live.admin_key, **FAST) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
async def areviewer(live: Live) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, live.reviewer_key, **FAST) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
def loop(admin: Client, live: Live, request: pytest.FixtureRequest) -> Loop:
    name = f"{request.node.name[:80]}-{next(_names)}"
    return admin.create_loop(name, reviewers=[live.reviewer_id])
