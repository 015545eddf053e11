"""The one place that wires settings → database → services → HTTP app and background workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from .api.app import create_api
from .config import Settings
from .service.context import Context, Limits, Sealer
from .store import notify
from .store.db import Database


@dataclass
class Runtime:
    """What `signoff serve` runs: the context and the background tasks around it."""

    ctx: Context
    settings: Settings

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Context]:
        """Start the background workers; stop them and close the database on the way out."""
        tasks: list[asyncio.Task[None]] = []
        if not self.ctx.db.is_sqlite:
            self.ctx.sealer = Sealer(self.ctx)
            self.ctx.sealer.start()
            ready = asyncio.Event()
            dsn = self.settings.resolved_database_url().replace(
                "postgresql+psycopg://", "postgresql://"
            )
            tasks.append(
                asyncio.create_task(
                    notify.listen(
                        dsn, self.ctx.notifier.publish, self.ctx.notifier.publish_all, ready
                    )
                )
            )
            await asyncio.wait_for(ready.wait(), 10)
        try:
            yield self.ctx
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self.ctx.sealer:
                await self.ctx.sealer.stop()
            await self.ctx.db.dispose()


def build_context(settings: Settings, public_url: str) -> Context:
    db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    limits = Limits(
        max_metadata_bytes=settings.max_metadata_bytes,
        max_batch=settings.max_batch,
        max_wait_seconds=settings.max_wait_seconds,
    )
    return Context(db=db, public_url=settings.public_url or public_url, limits=limits)


def build_app(settings: Settings, public_url: str = "http://127.0.0.1:8000") -> FastAPI:
    runtime = Runtime(build_context(settings, public_url), settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    return create_api(runtime.ctx, max_body_bytes=settings.max_body_bytes, lifespan=lifespan)
