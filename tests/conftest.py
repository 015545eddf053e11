"""Fixtures for tests that touch the real thing.

`db_url` gives each test a fresh database: a copy of a migrated SQLite file, or a PostgreSQL
database cloned from a migrated template (needs SIGNOFF_TEST_POSTGRES_URL; skipped without it).
Tests that take `db_url` (or anything built on it) run once on each database.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from signoff.api.app import create_api
from signoff.app import Runtime, build_context
from signoff.config import Settings
from signoff.domain import ids
from signoff.domain.model import SYSTEM, Role, UserRole
from signoff.service.context import Context
from signoff.service.users import create_key, create_user
from signoff.store.migrate import upgrade

# A developer's shell must not change a result.
for name in list(os.environ):
    if name.startswith("SIGNOFF_") and name != "SIGNOFF_TEST_POSTGRES_URL":
        del os.environ[name]

PG_URL = os.environ.get("SIGNOFF_TEST_POSTGRES_URL")
_counter = itertools.count()


def pytest_report_header() -> str:
    if PG_URL:
        return f"PostgreSQL tests: on, {PG_URL}"
    return "PostgreSQL tests: SKIPPED, SIGNOFF_TEST_POSTGRES_URL is not set"


@pytest.fixture(autouse=True)
def fresh_ids() -> None:
    """Each test makes its ids on its own clock. `new_id` keeps a process's ids increasing, so
    after a test whose clock ran ahead (the assignment and scheduler tests set theirs to a
    fixed day and move it by hours) every later id would carry that future time, and a later
    test's `created_after`/`created_before` would select by it."""
    ids._last = 0


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "signoff.db"
    upgrade(f"sqlite:///{path}")
    return path


def _admin_conn() -> psycopg.Connection:
    assert PG_URL
    return psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True)


def _pg_url_for(database: str) -> str:
    assert PG_URL
    return str(sa.engine.make_url(PG_URL).set(database=database))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("SIGNOFF_TEST_POSTGRES_URL is not set: PostgreSQL tests are skipped")
    name = f"signoff_tpl_{os.getpid()}"
    with _admin_conn() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    upgrade(_pg_url_for(name))
    yield name
    with _admin_conn() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "signoff.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"signoff_t_{os.getpid()}_{next(_counter)}"
    with _admin_conn() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url_for(name)
    with _admin_conn() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[Context]:
    runtime = Runtime(build_context(settings, "http://testserver"), settings)
    async with runtime.running() as context:
        yield context


class Api:
    """An HTTP client on the real app, with keys for each role ready to use."""

    def __init__(self, client: httpx.AsyncClient, ctx: Context) -> None:
        self.client = client
        self.ctx = ctx
        self.keys: dict[str, str] = {}

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def as_(self, who: str, method: str, url: str, **kw: object) -> httpx.Response:
        headers = {**self.auth(who), **kw.pop("headers", {})}  # type: ignore[dict-item]
        return await self.client.request(method, url, headers=headers, **kw)  # type: ignore[arg-type]

    async def add_reviewer(self, name: str) -> str:
        """A reviewer user with a key under `name`; answers the user id."""
        user = await create_user(
            self.ctx, SYSTEM, f"{name}@example.com", name.title(), UserRole.reviewer, None
        )
        self.keys[name] = (await create_key(self.ctx, SYSTEM, name, Role.reviewer, user.id)).secret
        return user.id


@pytest.fixture
async def api(ctx: Context) -> AsyncIterator[Api]:
    app = create_api(ctx, max_body_bytes=256 * 1024)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        helper = Api(client, ctx)
        helper.keys["admin"] = (await create_key(ctx, SYSTEM, "admin", Role.admin, None)).secret
        helper.keys["requester"] = (
            await create_key(ctx, SYSTEM, "requester", Role.requester, None)
        ).secret
        yield helper


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: sync Playwright keeps an event loop running in the main thread while
    its (session-wide) browser lives, and no async test can run after it starts."""
    browser = [i for i in items if "chromium" in getattr(i, "fixturenames", ())]
    items[:] = [i for i in items if i not in browser] + browser
