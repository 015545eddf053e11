"""The one place that wires settings → database → services → HTTP app and background workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import FastAPI
from starlette.routing import Route

from . import web
from .api import inputs as api_inputs
from .api.app import create_api
from .api.guard import RequireKey
from .config import Settings
from .delivery import ssrf
from .delivery.dispatcher import Dispatcher, DispatcherConfig
from .delivery.email import SmtpConfig
from .mcp.http import PATH as MCP_PATH
from .mcp.http import Endpoint as McpEndpoint
from .scheduler.runner import Scheduler, SchedulerConfig
from .service.context import Context, Limits, Sealer
from .service.deliveries import Policy
from .service.watch import EventWatcher
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
        smtp=smtp_config(settings),
    )


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        sender=settings.smtp_sender,
        timeout=settings.smtp_timeout_seconds,
    )


def scheduler_config(settings: Settings) -> SchedulerConfig:
    return SchedulerConfig(
        batch=settings.scheduler_batch, max_sleep=settings.scheduler_poll_seconds
    )


@dataclass
class Runtime:
    """What a process runs: the context and the background tasks around it."""

    ctx: Context
    settings: Settings

    @asynccontextmanager
    async def running(self, *, workers: bool | None = None) -> AsyncIterator[Context]:
        """Start the background parts; stop them and close the database on the way out.

        Every process listens for PostgreSQL notifications, or on SQLite watches the event log
        for other processes' writes (long-polls, event streams); the workers (sealer,
        dispatcher) run where `workers` says.
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
                # Another process added timers: this one's scheduler may have to fire sooner.
                notify.TIMERS_CHANNEL: lambda due: ctx.wake_scheduler(_parse_time(due)),
            }

            def reconnected() -> None:
                ctx.notifier.publish_all()
                ctx.wake_dispatcher()
                ctx.wake_scheduler(None)

            url = self.settings.resolved_database_url().replace("+psycopg", "")
            tasks.append(asyncio.create_task(notify.listen(url, handlers, reconnected, ready)))
            await asyncio.wait_for(ready.wait(), 10)
            if workers:
                self.ctx.sealer = Sealer(self.ctx)
                self.ctx.sealer.start()
        if self.ctx.db.is_sqlite and self.settings.sqlite_watch_seconds > 0:
            self.ctx.watcher = EventWatcher(self.ctx, self.settings.sqlite_watch_seconds)
            await self.ctx.watcher.start()
        scheduler = None
        if workers:
            dispatcher = Dispatcher(self.ctx, dispatcher_config(self.settings))
            dispatcher.start()
            scheduler = Scheduler(self.ctx, scheduler_config(self.settings))
            scheduler.start()
        try:
            yield self.ctx
        finally:
            if scheduler:
                await scheduler.stop()
            if dispatcher:
                await dispatcher.stop()
            if self.ctx.watcher:
                await self.ctx.watcher.stop()
                self.ctx.watcher = None
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
        db=db,
        public_url=settings.public_url or public_url,
        limits=limits,
        check_url=check_url,
        email_enabled=bool(settings.smtp_host),
    )


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def build_app(settings: Settings, public_url: str = "http://127.0.0.1:8000") -> FastAPI:
    runtime = Runtime(build_context(settings, public_url), settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.running(), app.state.mcp.running():
            yield

    app = create_app(runtime.ctx, max_body_bytes=settings.max_body_bytes, lifespan=lifespan)
    # MCP over streamable HTTP: its tools call this app's own /v1 routes with the caller's key.
    app.state.mcp = mcp = McpEndpoint(app, settings.mcp_wait_seconds)
    # Ahead of the web app's routes, so none of them can shadow it.
    app.router.routes.insert(
        0, Route(MCP_PATH, RequireKey(runtime.ctx, mcp), include_in_schema=False)
    )
    return app


def create_app(ctx: Context, *, max_body_bytes: int, lifespan: object = None) -> FastAPI:
    """The HTTP app: the API under /v1 and the reviewer web app around it."""
    app = create_api(ctx, max_body_bytes=max_body_bytes, lifespan=lifespan)
    web.install(
        app,
        web.ApiShapes(
            loop_changes=api_inputs.loop_changes,
            request_draft=api_inputs.request_draft,
            simulation_answer=api_inputs.simulation_answer,
        ),
    )
    return app
