"""`signoff …`: parse, call a service, print. Exit codes: 0 ok, 1 failed check, 2 usage error."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from .config import Settings
from .domain.model import Principal, Role
from .errors import SignoffError

T = TypeVar("T")
CLI = Principal(role=Role.admin, name="cli")


def _settings() -> Settings:
    return Settings()


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Migrate, then run `work(ctx)` in an event loop; errors become a message and exit 1."""
    from .app import build_context
    from .store.migrate import upgrade

    _make_data_dir(settings)
    upgrade(settings.resolved_database_url())

    async def main() -> T:
        ctx = build_context(settings, "http://127.0.0.1:8000")
        try:
            return await work(ctx)
        finally:
            await ctx.db.dispose()

    try:
        return asyncio.run(main())
    except SignoffError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)


def _make_data_dir(settings: Settings) -> None:
    # Only its owner reads the database: it holds the content people review.
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Signoff: human-in-the-loop approvals for workflows and AI agents."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Migrate the database, then serve the API (and, on first start, print an admin key)."""
    import uvicorn

    from .app import build_app
    from .service.users import create_first_admin_key

    settings = _settings()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host}:{port}"
    listening = _listen(host, port)  # before anything is made: a busy port changes nothing
    first = _run(settings, create_first_admin_key)
    database = settings.database_url or f"SQLite at {settings.data_dir / 'signoff.db'}"
    click.echo(f"Signoff is serving at {url}")
    click.echo(f"Database: {_safe_url(database)}")
    if first is not None:
        click.echo("\nYour first admin API key (shown only this once; keep it safe):")
        click.echo(f"  {first.secret}\n")
    sys.stdout.flush()
    app = build_app(settings, url)
    config = uvicorn.Config(app, log_level="info", proxy_headers=True)
    uvicorn.Server(config).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        click.echo("  (is another server running there? choose another with --port)", err=True)
        sys.exit(2)
    return sock


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


@main.command()
def worker() -> None:
    """Run the background workers only (webhook and notification dispatcher, scheduler of
    timeouts, reminders and escalations, event sealer), no HTTP.

    Start as many as you like against one PostgreSQL database; set SIGNOFF_WORKERS=false on
    the `serve` replicas if only these should send.
    """
    import signal

    from .app import Runtime, build_context
    from .store.migrate import upgrade

    settings = _settings()
    _make_data_dir(settings)
    upgrade(settings.resolved_database_url())

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runtime = Runtime(build_context(settings, settings.public_url or ""), settings)
        async with runtime.running(workers=True):
            click.echo("signoff worker running; Ctrl-C to stop", err=True)
            await stop.wait()

    asyncio.run(run())


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (serve does this too)."""
    from .store.migrate import head_revision, upgrade

    settings = _settings()
    _make_data_dir(settings)
    upgrade(settings.resolved_database_url())
    click.echo(f"database at revision {head_revision()}")


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--user", "email", help="Email of the user the key acts for (needed for reviewer).")
@click.option("--name", default=None, help="A name to recognise the key by.")
def keys_create(role: str, email: str | None, name: str | None) -> None:
    """Create a key and print only the key on stdout, for scripts."""
    from .service import users

    async def work(ctx: Any) -> str:
        user_id = None
        if email:
            user = await users.find_user_by_email(ctx, email)
            if user is None:
                raise SignoffError(f"no user with email {email}")
            user_id = user.id
        created = await users.create_key(ctx, CLI, name or f"{role} key", Role(role), user_id)
        return created.secret

    click.echo(_run(_settings(), work))


@keys.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    from .service import users

    async def work(ctx: Any) -> None:
        for key in await users.list_keys(ctx, None, 10_000):
            state = "revoked" if key.revoked_at else "active"
            click.echo(f"{key.id}\tsk_{key.prefix}…\t{key.role.value}\t{state}\t{key.name}")

    _run(_settings(), work)


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (key_…)."""
    from .service import users

    async def work(ctx: Any) -> None:
        await users.revoke_key(ctx, CLI, key_id)
        click.echo(f"revoked {key_id}")

    _run(_settings(), work)


@main.group()
def audit() -> None:
    """Check the tamper-evident event log."""


@audit.command("verify")
def audit_verify() -> None:
    """Verify the event chain; names the first broken link and prints the head hash."""
    from .service.events import verify_chain

    verdict, unsealed = _run(_settings(), verify_chain)
    if verdict.ok:
        click.echo(f"ok: {verdict.checked} events, chain intact")
    else:
        click.echo(
            f"BROKEN at event #{verdict.broken_seq} ({verdict.broken_id}): {verdict.reason}",
            err=True,
        )
        click.echo(f"{verdict.checked} events before it are intact")
    click.echo(f"head: #{verdict.head_seq} {verdict.head_hash}")
    if unsealed:
        click.echo(f"{unsealed} events are not sealed into the chain yet")
    sys.exit(0 if verdict.ok else 1)
