"""The MCP server against the real thing: one `signoff serve` per database (its own process),
reached by the official MCP client over stdio (spawning `signoff mcp`) and over streamable HTTP
(/mcp on that server), while the test decides through the REST API as a reviewer would."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from signoff.client import AsyncClient, Loop
from tests.integration.databases import empty_postgres
from tests.integration.server import serve, signoff_env, staffed
from tests.mcp.support import BOUND, Live

FAST = {"retries": 3, "backoff": 0.02, "max_backoff": 0.1}
_names = itertools.count()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp(f"mcp-{request.param}")
    with contextlib.ExitStack() as stack:
        settings = {"data_dir": str(root / "data"), "mcp_wait_seconds": str(BOUND)}
        if request.param == "postgres":
            settings["database_url"] = stack.enter_context(empty_postgres())
        # A busy machine (CI beside other jobs) can take a while to start Python and migrate.
        server = stack.enter_context(serve(signoff_env(**settings), root / "logs", timeout=120))
        yield staffed(server)


@pytest.fixture
async def admin(live: Live) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, live.admin_key, **FAST) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
async def reviewer(live: Live) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, live.reviewer_key, **FAST) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
async def loop(admin: AsyncClient, live: Live, request: pytest.FixtureRequest) -> Loop:
    name = f"{request.node.name[:60]}-{next(_names)}"
    return await admin.create_loop(name, reviewers=[live.reviewer_id])


@pytest.fixture(params=["stdio", "http", "http-2026"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
