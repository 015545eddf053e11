"""SQLite the fast way for a single-process service: inline statements and group commit.

Inline: a statement on a local SQLite file takes microseconds, less than handing it to a
thread and back (aiosqlite's way: one round trip per call, ~40 per use case, which was most of
a request's time). So statements run on the event loop; only what can wait on the disk or on
another process's lock — BEGIN IMMEDIATE and COMMIT with its fsync — goes to a thread.

Group commit: with synchronous=FULL every COMMIT waits for the disk. Writers that arrive while
one commit is under way each run in a SAVEPOINT of one shared transaction, and a single COMMIT
makes them all durable; each writer returns only after that COMMIT, so a caller never sees an
answer for something that could still be lost. A writer that fails rolls back its own
savepoint and nothing else.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

T = TypeVar("T")

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def _engine(url: str, pool_size: int, begin: str) -> sa.Engine:
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


class InlineConnection:
    """The connection the query functions get on SQLite: the same calls as AsyncConnection."""

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


@dataclass
class _Batch:
    """One shared write transaction and the writers waiting for its COMMIT."""

    conn: sa.Connection
    transaction: sa.RootTransaction
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class ChangeProbe:
    """Says whether any other connection (another process, or this one's writer) committed to
    the file since the last call: `PRAGMA data_version` on a connection of its own, which reads
    no table and costs microseconds (a query through the pool costs about a hundred times more).
    """

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._last: int | None = None

    def changed(self) -> bool:
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        changed, self._last = version != self._last, version
        return changed

    def close(self) -> None:
        self._conn.close()


class SQLite:
    def __init__(self, url: str, pool_size: int) -> None:
        self.path = sa.engine.make_url(url).database or ""
        self._writer = _engine(url, 1, "BEGIN IMMEDIATE")
        self._reader = _engine(url, pool_size, "BEGIN")
        # Held while a writer runs its savepoint and while a batch commits; FIFO, so writers
        # already queued when a commit is due still join the batch it commits.
        self._lock = asyncio.Lock()
        self._batch: _Batch | None = None
        self._committer: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[InlineConnection]:
        async with self._lock:
            batch = self._batch
            if batch is None:
                conn = self._writer.connect()
                try:
                    transaction = await _in_thread(conn.begin)
                except BaseException:
                    conn.close()
                    raise
                batch = self._batch = _Batch(conn, transaction)
            savepoint = batch.conn.begin_nested()
            try:
                yield InlineConnection(batch.conn)
            except BaseException:
                savepoint.rollback()
                # The batch still holds SQLite's write lock: end it soon even if no other
                # writer comes, or other processes (a CLI, a worker) would wait for it.
                self._end_batch_soon()
                raise
            savepoint.commit()
            durable = asyncio.get_running_loop().create_future()
            batch.waiters.append(durable)
            self._end_batch_soon()
        await durable

    def _end_batch_soon(self) -> None:
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit())

    async def _commit(self) -> None:
        async with self._lock:
            batch, self._batch, self._committer = self._batch, None, None
            if batch is None:
                return
            try:
                await _in_thread(batch.transaction.commit)
            except BaseException as exc:
                for waiter in batch.waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                for waiter in batch.waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            finally:
                batch.conn.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[InlineConnection]:
        with self._reader.connect() as conn, conn.begin():
            yield InlineConnection(conn)

    async def dispose(self) -> None:
        if self._committer is not None:
            await asyncio.wait([self._committer])
        self._writer.dispose()
        self._reader.dispose()
