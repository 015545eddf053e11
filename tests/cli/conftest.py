"""`env`: the environment of a `signoff` command that starts from nothing.

SQLite: only SIGNOFF_DATA_DIR, a folder that does not exist yet. PostgreSQL: the same, plus
SIGNOFF_DATABASE_URL naming a new, empty database, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.databases import empty_postgres
from tests.integration.server import signoff_env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    data_dir = str(tmp_path / "data")
    if request.param == "sqlite":
        yield signoff_env(data_dir=data_dir)
        return
    with empty_postgres() as url:
        yield signoff_env(data_dir=data_dir, database_url=url)
