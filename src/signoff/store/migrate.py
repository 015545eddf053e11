"""Migrations: one Alembic chain for SQLite and PostgreSQL, run from code (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .db import Conn, sync_url

HERE = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(HERE)).get_current_head()


def heads() -> list[str]:
    return list(ScriptDirectory(str(HERE)).get_heads())


async def current_revision(conn: Conn) -> str | None:
    def read(sync_conn: sa.Connection) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    return await conn.run_sync(read)
