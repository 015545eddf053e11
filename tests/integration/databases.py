"""Empty databases, for tests of what happens on the very first start (migrations, serve)."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL

_counter = itertools.count()


@contextlib.contextmanager
def empty_postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped on the way out."""
    if not PG_URL:
        pytest.skip("SIGNOFF_TEST_POSTGRES_URL is not set: PostgreSQL tests are skipped")
    name = f"signoff_empty_{os.getpid()}_{next(_counter)}"
    admin_url = PG_URL.replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield str(sa.engine.make_url(PG_URL).set(database=name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
