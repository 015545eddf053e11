"""`signoff …`: parse, call a service, print. Exit codes: 0 ok, 1 failed or refused, 2 usage error.

Errors are one line on stderr, `error: …`; list and show commands take `--json` for scripts.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import click

from ._common import make_data_dir, settings
from ._common import run as _run

_settings = settings
_make_data_dir = make_data_dir


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Signoff: human-in-the-loop approvals for workflows and AI agents."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Migrate the database, then serve the API and the web app (and, on first start, print an
    admin key, and a setup link for the first admin while none can sign in)."""
    import uvicorn

    from ..app import build_app
    from ..service.accounts import start_setup
    from ..service.serving import record_serving_url
    from ..service.users import create_first_admin_key

    settings = _settings()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host}:{port}"
    listening = _listen(host, port)  # before anything is made: a busy port changes nothing
    first = _run(settings, create_first_admin_key)
    setup = _run(settings, start_setup, public_url=url)
    _run(settings, record_serving_url, public_url=url)  # for the commands run beside it
    database = settings.database_url or f"SQLite at {settings.data_dir / 'signoff.db'}"
    click.echo(f"Signoff is serving at {url}")
    click.echo(f"Database: {_safe_url(database)}")
    if first is not None:
        click.echo("\nYour first admin API key (shown only this once; keep it safe):")
        click.echo(f"  {first.secret}\n")
    if setup is not None:
        click.echo("Make the first admin account here (one use, for 24 hours; a restart makes")
        click.echo(f"a new link until an admin can sign in):\n  {setup.url}\n")
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

    from ..app import Runtime, build_context
    from ..store.migrate import upgrade

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
@click.option("--url", envvar="SIGNOFF_URL", help="The Signoff server [env SIGNOFF_URL].")
@click.option(
    "--api-key", envvar="SIGNOFF_API_KEY", help="The key the tools act with [env SIGNOFF_API_KEY]."
)
@click.option(
    "--wait-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Longest a tool call waits for a decision before it answers pending "
    "[env SIGNOFF_MCP_WAIT_SECONDS; default 50].",
)
def mcp(url: str | None, api_key: str | None, wait_seconds: float | None) -> None:
    """Serve the MCP tools over stdio, for an AI assistant that starts this command.

    A client of a running Signoff server: every tool call is an API call made with the key
    given, under that key's role. (`signoff serve` also offers the tools over streamable HTTP
    at /mcp.)
    """
    from ..mcp.stdio import serve_stdio

    missing = [
        name for name, value in (("SIGNOFF_URL", url), ("SIGNOFF_API_KEY", api_key)) if not value
    ]
    if missing:
        click.echo(
            f"error: set {' and '.join(missing)} (or pass --url / --api-key): `signoff mcp` "
            "is a client of a running Signoff server",
            err=True,
        )
        sys.exit(2)
    assert url and api_key
    seconds = wait_seconds if wait_seconds is not None else _settings().mcp_wait_seconds
    asyncio.run(serve_stdio(url, api_key, seconds))


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (serve does this too)."""
    from ..store.migrate import head_revision, upgrade

    settings = _settings()
    _make_data_dir(settings)
    upgrade(settings.resolved_database_url())
    click.echo(f"database at revision {head_revision()}")


@main.group()
def audit() -> None:
    """Check the tamper-evident event log."""


@audit.command("verify")
def audit_verify() -> None:
    """Verify the event chain; names the first broken link and prints the head hash."""
    from ..service.events import verify_chain

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


def _register() -> None:
    from . import demo, export, keys, loops, people, requests

    for command in (
        keys.keys,
        people.users,
        loops.loops,
        requests.requests,
        export.export,
        demo.demo,
    ):
        main.add_command(command)


_register()
