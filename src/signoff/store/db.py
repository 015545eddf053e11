"""Engines and transactions for SQLite and PostgreSQL.

SQLite: one writer connection that opens every transaction with BEGIN IMMEDIATE (so two
processes never both think they may write, and a read-then-write never fails half-way), readers
on their own pool, used inline from the event loop with group commit (see sqlite.py); WAL with
synchronous=FULL, so a committed decision survives a power cut.
PostgreSQL: one pool; rows that decide something are locked with SELECT … FOR UPDATE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .sqlite import SQLITE_PRAGMAS, ChangeProbe, InlineConnection, SQLite

__all__ = ["SQLITE_PRAGMAS", "ChangeProbe", "Conn", "Database", "async_url", "sync_url"]


def async_url(url: str) -> str:
    """The driver we use for a plain `postgresql://` URL (SQLite needs none: see below)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (migrations, and SQLite always)."""
    return async_url(url)


# What the query functions take: either kind of connection.
Conn = AsyncConnection | InlineConnection


class Database:
    """The database Signoff runs on: `write()` and `read()` each give one transaction."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.dialect = sa.engine.make_url(self.url).get_backend_name()
        self._sqlite: SQLite | None = None
        self._engine: AsyncEngine | None = None
        if self.is_sqlite:
            self._sqlite = SQLite(sync_url(url), pool_size)
        else:
            self._engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Conn]:
        if self._engine is not None:
            async with self._engine.begin() as conn:
                yield conn
            return
        assert self._sqlite is not None
        async with self._sqlite.write() as inline:
            yield inline

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        if self._engine is not None:
            async with self._engine.begin() as conn:
                yield conn
            return
        assert self._sqlite is not None
        async with self._sqlite.read() as inline:
            yield inline

    def change_probe(self) -> ChangeProbe | None:
        """On SQLite, a cheap way to tell that something committed since the last look."""
        return ChangeProbe(self._sqlite.path) if self._sqlite is not None else None

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        if self._sqlite is not None:
            await self._sqlite.dispose()
