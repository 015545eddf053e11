"""Running `signoff …` in this process (click's runner) and reaching the same database directly.

The commands read their settings from the environment, as a shell would give them; `service`
runs a use case on that same database for what no command does (creating requests).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from click.testing import CliRunner, Result

from signoff.app import build_context
from signoff.cli import main
from signoff.config import Settings
from signoff.domain.model import SYSTEM
from signoff.service import requests
from signoff.service.context import Context
from signoff.store.db import sync_url
from signoff.store.migrate import upgrade

T = TypeVar("T")


def cli(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def ok(env: dict[str, str], *args: str, input: str | None = None) -> str:
    """stdout of a command that must succeed."""
    result = cli(env, *args, input=input)
    assert result.exit_code == 0, (args, result.output, result.stderr)
    return result.stdout


def ok_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(ok(env, *args, "--json"))


def failed(env: dict[str, str], *args: str, code: int = 1) -> str:
    """stderr of a command that must fail with `code` and print nothing on stdout."""
    result = cli(env, *args)
    assert result.exit_code == code, (args, result.exit_code, result.output, result.stderr)
    assert result.stdout == "", result.stdout
    return result.stderr


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        data_dir=Path(env["SIGNOFF_DATA_DIR"]), database_url=env.get("SIGNOFF_DATABASE_URL")
    )


def service(env: dict[str, str], work: Callable[[Context], Awaitable[T]]) -> T:
    settings = settings_of(env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())

    async def main() -> T:
        ctx = build_context(settings, "http://127.0.0.1:8000")
        try:
            return await work(ctx)
        finally:
            await ctx.db.dispose()

    return asyncio.run(main())


def ask(env: dict[str, str], loop_id: str, content: Any = "Refund $120?", **draft: Any) -> str:
    """A new pending request, as a workflow's key would create it; answers its id."""

    async def work(ctx: Context) -> str:
        [made] = await requests.create_requests(
            ctx, SYSTEM, loop_id, [requests.RequestDraft(content, **draft)], batch=False
        )
        return made.id

    return service(env, work)


def sql(env: dict[str, str], query: str, **params: Any) -> list[Any]:
    """Rows of a plain SQL query on the commands' database."""
    engine = sa.create_engine(sync_url(settings_of(env).resolved_database_url()))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(query), params))
    finally:
        engine.dispose()
