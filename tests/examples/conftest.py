"""The examples, run for real: one `signoff serve` for the session (its own process and data
folder, loopback webhooks allowed), a requester key for the examples, a reviewer who decides
from the test through the REST API, and a fresh loop per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signoff.client import Client, Loop
from tests.integration.server import Server, serve, signoff_env

from .support import Example

_names = itertools.count()


@dataclass(frozen=True)
class Live:
    server: Server
    admin_key: str
    requester_key: str
    reviewer_key: str
    reviewer_id: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("examples")
    env = signoff_env(data_dir=str(root / "data"), allow_private_urls="true")
    with serve(env, root / "logs") as server:
        key = server.first_key()
        assert key, server.stdout
        with Client(server.url, key) as admin:
            ann = admin.create_user("ann@example.com", "Ann", role="reviewer")
            ann_key = admin.create_api_key("ann", "reviewer", user_id=ann.id).key
            agent_key = admin.create_api_key("agent", "requester").key
        assert ann_key and agent_key
        yield Live(server, key, agent_key, ann_key, ann.id)


@pytest.fixture
def admin(live: Live) -> Iterator[Client]:
    with Client(live.url, live.admin_key) as client:
        yield client


@pytest.fixture
def reviewer(live: Live) -> Iterator[Client]:
    with Client(live.url, live.reviewer_key) as client:
        yield client


@pytest.fixture
def loop(admin: Client, live: Live, request: pytest.FixtureRequest) -> Loop:
    name = f"{request.node.name[:80]}-{next(_names)}"
    return admin.create_loop(name, reviewers=[live.reviewer_id])


@pytest.fixture
def example(live: Live, tmp_path: Path) -> Iterator[Example]:
    """Runs `examples/<name>` as its own process, as a user would, with the requester key."""
    runner = Example(live.url, live.requester_key, tmp_path)
    yield runner
    runner.stop_all()
