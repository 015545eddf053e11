"""The one place that wires settings → database → services → HTTP app and background workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from .api.app import create_api
from .config import Settings
from .delivery import ssrf
from .delivery.dispatcher import Dispatcher, DispatcherConfig
from .service.context import Context, Limits, Sealer
from .service.deliveries import Policy
from .store import notify
from .store.db import Database


def dispatcher_config(settings: Settings) -> DispatcherConfig:
    return DispatcherConfig(
        timeout=settings.webhook_timeout_seconds,
        concurrency=settings.webhook_concurrency,
        allow_private=settings.allow_private_urls,
        policy=Policy(
            schedule=tuple(settings.webhook_retry_schedule),
            disable_after=timedelta(hours=settings.webhook_disable_after_hours),
        ),
    )


@dataclass
class Runtime:
    """What a process runs: the context and the background tasks around it."""

    ctx: Context
    settings: Settings

    @asynccontextmanager
    async def running(self, *, workers: bool | None = None) -> AsyncIterator[Context]:
        """Start the background parts; stop them and close the database on the way out.

        Every process listens for PostgreSQL notifications (long-polls, event streams); the
        workers (sealer, dispatcher) run where `workers` says.
        """
        workers = self.settings.workers if workers is None else workers
        tasks: list[asyncio.Task[None]] = []
        dispatcher = None
        if not self.ctx.db.is_sqlite:
            ready = asyncio.Event()
            ctx = self.ctx
            handlers = {
                notify.CHANNEL: ctx.notifier.publish,
                notify.FEED_CHANNEL: lambda _: ctx.notifier.publish_feed(),
                # Another process queued messages: this one's dispatcher may send them now.
                notify.OUTBOX_CHANNEL: lambda _: ctx.wake_dispatcher(),
            }

            def reconnected() -> None:
                ctx.notifier.publish_all()
                ctx.wake_dispatcher()

            url = self.settings.resolved_database_url().replace("+psycopg", "")
            tasks.append(asyncio.create_task(notify.listen(url, handlers, reconnected, ready)))
            await asyncio.wait_for(ready.wait(), 10)
            if workers:
                self.ctx.sealer = Sealer(self.ctx)
                self.ctx.sealer.start()
        if workers:
            dispatcher = Dispatcher(self.ctx, dispatcher_config(self.settings))
            dispatcher.start()
        try:
            yield self.ctx
        finally:
            if dispatcher:
                await dispatcher.stop()
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
        claim_lease_seconds=settings.claim_lease_seconds,
    )

    async def check_url(url: str, field: str) -> None:
        await ssrf.check_url(url, allow_private=settings.allow_private_urls, field=field)

    return Context(
        db=db, public_url=settings.public_url or public_url, limits=limits, check_url=check_url
    )


def build_app(settings: Settings, public_url: str = "http://127.0.0.1:8000") -> FastAPI:
    runtime = Runtime(build_context(settings, public_url), settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    return create_api(runtime.ctx, max_body_bytes=settings.max_body_bytes, lifespan=lifespan)
