"""What every command shares: the settings, running a use case, printing errors and tables."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from ..config import Settings
from ..domain.model import Principal, Role
from ..errors import SignoffError, ValidationFailed

if TYPE_CHECKING:
    from ..service.context import Context

T = TypeVar("T")
CLI = Principal(role=Role.admin, name="cli")
DEFAULT_URL = "http://127.0.0.1:8000"  # `signoff serve` without options
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")


def settings() -> Settings:
    return Settings()


def make_data_dir(settings: Settings) -> None:
    # Only its owner reads the database: it holds the content people review.
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


def run(
    settings: Settings,
    work: Callable[[Context], Awaitable[T]],
    *,
    options: Mapping[str, str] | None = None,
    public_url: str | None = None,
) -> T:
    """Migrate, then run `work(ctx)` in an event loop; errors become one line and exit 1.

    `options` names the command-line option behind a field of the service's errors
    (`{"body.feedback": "--feedback"}`), so the message says what to change. Links are built
    on SIGNOFF_PUBLIC_URL, else `public_url`, else the URL the server recorded when it started
    (`signoff serve --port 9000`), so a command prints the links the API answers with.
    """
    from ..app import build_context
    from ..service.serving import serving_url
    from ..store.migrate import upgrade

    make_data_dir(settings)
    upgrade(settings.resolved_database_url())

    async def main() -> T:
        ctx = build_context(settings, public_url or DEFAULT_URL)
        try:
            if not (settings.public_url or public_url):
                ctx.public_url = await serving_url(ctx) or DEFAULT_URL
            return await work(ctx)
        finally:
            await ctx.db.dispose()

    try:
        return asyncio.run(main())
    except SignoffError as exc:
        fail(_message(exc, options or {}))


def _message(exc: SignoffError, options: Mapping[str, str]) -> str:
    if isinstance(exc, ValidationFailed) and len(exc.errors) == 1:
        [error] = exc.errors
        name = options.get(error.field, error.field.removeprefix("body."))
        return f"{name}: {error.message}"
    return exc.detail


def fail(message: str) -> NoReturn:
    """The one way a command fails: `error: …` on stderr, exit status 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to their widest cell; the last column is never padded."""
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=False))
        click.echo(f"{line}  {row[-1]}".rstrip() if len(row) > 1 else row[0])


def text(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Free text from the command line; bytes that are not UTF-8 are refused, not stored."""
    if value is not None:
        try:
            value.encode()
        except UnicodeEncodeError:
            raise click.BadParameter("is not valid UTF-8 text", param=param) from None
    return value


def short(value: Any, width: int = 60) -> str:
    """One line of at most `width` characters, for a table cell."""
    flat = " ".join(str(value).split()) if value is not None else ""
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def when(value: datetime | None) -> str:
    """A time for people: UTC, to the minute."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


def moment(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO 8601 date or time from the command line; without a zone it is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date or time such as 2026-11-01 or 2026-11-01T09:30Z", param=param
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
