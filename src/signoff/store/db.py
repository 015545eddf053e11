"""Engines and transactions for SQLite and PostgreSQL.

SQLite: one writer connection that opens every transaction with BEGIN IMMEDIATE (so two
processes never both think they may write, and a read-then-write never fails half-way), readers
on their own pool, all used inline from the event loop (see InlineConnection); WAL with
synchronous=FULL, so a committed decision survives a power cut.
PostgreSQL: one pool; rows that decide something are locked with SELECT … FOR UPDATE.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)
T = TypeVar("T")


def async_url(url: str) -> str:
    """The driver we use for a plain `postgresql://` URL (SQLite needs none: see below)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (migrations, and SQLite always)."""
    return async_url(url)


def _sqlite_engine(url: str, pool_size: int, begin: str) -> sa.Engine:
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=120,
        # Used from the event loop and, for BEGIN and COMMIT, from a worker thread; never at once.
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transactions out of the driver's hands so that BEGIN is ours to write.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class InlineConnection:
    """A SQLite connection used straight from the event loop.

    A statement on a local SQLite file takes microseconds, less than handing it to a thread and
    back (aiosqlite's way, one round trip per call: ~40 per use case, most of its time). So
    statements run inline; only what can wait on the disk or on another process's lock —
    BEGIN IMMEDIATE and COMMIT, with its fsync — goes to a thread.
    """

    def __init__(self, sync: sa.Connection) -> None:
        self.sync = sync

    async def execute(
        self, statement: sa.Executable, parameters: Any = None
    ) -> sa.CursorResult[Any]:
        return self.sync.execute(statement, parameters)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync.begin_nested():
            yield

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        return fn(self.sync)


async def _in_thread(call: Callable[[], T]) -> T:
    """Run a blocking SQLite call in a thread; if the caller is cancelled meanwhile, the call
    still finishes before the connection is let go (a half-made COMMIT must not be rolled back
    from another thread)."""
    task = asyncio.ensure_future(asyncio.to_thread(call))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


# What the query functions take: either kind of connection.
Conn = AsyncConnection | InlineConnection


class Database:
    """The database Signoff runs on: `write()` and `read()` each give one transaction."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.dialect = sa.engine.make_url(self.url).get_backend_name()
        self._sqlite_writer: sa.Engine | None = None
        self._sqlite_reader: sa.Engine | None = None
        self._write_lock = asyncio.Lock()
        self._engine: AsyncEngine | None = None
        if self.is_sqlite:
            plain = sync_url(url)
            self._sqlite_writer = _sqlite_engine(plain, 1, "BEGIN IMMEDIATE")
            self._sqlite_reader = _sqlite_engine(plain, pool_size, "BEGIN")
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
        assert self._sqlite_writer is not None
        async with self._write_lock:  # one writer connection: transactions take turns
            with self._sqlite_writer.connect() as plain:
                transaction = await _in_thread(plain.begin)
                try:
                    yield InlineConnection(plain)
                except BaseException:
                    transaction.rollback()
                    raise
                await _in_thread(transaction.commit)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        if self._engine is not None:
            async with self._engine.begin() as conn:
                yield conn
            return
        assert self._sqlite_reader is not None
        with self._sqlite_reader.connect() as plain, plain.begin():
            yield InlineConnection(plain)

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        for engine in (self._sqlite_writer, self._sqlite_reader):
            if engine is not None:
                engine.dispose()
