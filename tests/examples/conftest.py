"""The examples, run for real: one `signoff serve` for the session (its own process and data
folder, loopback webhooks allowed), a requester key for the examples, a reviewer who decides
from the test through the REST API, and a fresh loop per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from signoff.client import Client, Loop
from tests.integration.server import Live, serve, signoff_env, staffed

from .support import Example

_names = itertools.count()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("examples")
    env = signoff_env(data_dir=str(root / "data"), allow_private_urls="true")
    with serve(env, root / "logs") as server:
        yield staffed(server)


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
