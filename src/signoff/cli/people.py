"""`signoff users create|list`"""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from ..domain.model import User, UserRole
from ..service.context import Context
from ._common import CLI, JSON_OPTION, print_json, print_table, run, settings, text, when

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


def user_json(user: User) -> dict[str, Any]:
    """The user as the API answers it (GET /v1/users/{id})."""
    from ..api.out import user_out

    return user_out(user).model_dump(mode="json")


def _email(_ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value) or len(value) > 320:
        raise click.BadParameter(f"{value!r} is not an email address", param=param)
    return value


def _name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = (text(ctx, param, value) or "").strip()
    if not 1 <= len(value) <= 200:
        raise click.BadParameter("needs 1 to 200 characters", param=param)
    return value


def _read_password() -> str:
    """From a hidden prompt (twice) on a terminal; else the first line of stdin."""
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise click.UsageError(f"the password needs at least {MIN_PASSWORD} characters")
    return password


@click.group()
def users() -> None:
    """Manage people: admins and reviewers."""


@users.command("create")
@click.option("--email", required=True, callback=_email, help="Their email; also their login.")
@click.option("--name", required=True, callback=_name, help="Their name, as reviewers see it.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in UserRole]),
    default=UserRole.reviewer.value,
    show_default=True,
    help="admin: everything; reviewer: decides requests of the loops they belong to.",
)
@click.option(
    "--password",
    "ask_password",
    is_flag=True,
    help="Set a password for signing in: asked at a hidden prompt, or read as the first line "
    "of stdin when it is not a terminal (never from the command line).",
)
@JSON_OPTION
def users_create(email: str, name: str, role: str, ask_password: bool, as_json: bool) -> None:
    """Add a person; prints their id on stdout (or the user as JSON).

    \b
    Examples:
      signoff users create --email ann@example.com --name Ann
      echo "$PW" | signoff users create --email bo@example.com --name Bo --role admin --password
    """
    from ..service import users as service

    password = _read_password() if ask_password else None

    async def work(ctx: Context) -> User:
        return await service.create_user(ctx, CLI, email, name, UserRole(role), password)

    user = run(settings(), work)
    if as_json:
        print_json(user_json(user))
    else:
        click.echo(user.id)
    if password is None:
        click.echo(
            f"{user.email} has no password yet. For scripts, give them a key:\n"
            f"  signoff keys create --role {role} --user {user.email}\n"
            f"or set a password through the API: PATCH /v1/users/{user.id} "
            '{"password": "…"}',
            err=True,
        )


@users.command("list")
@JSON_OPTION
def users_list(as_json: bool) -> None:
    """List people, oldest first."""
    from ..service import users as service

    async def work(ctx: Context) -> list[User]:
        found: list[User] = []
        after = None
        while page := await service.list_users(ctx, after, 500):
            found += page
            after = page[-1].id
        return found

    found = run(settings(), work)
    if as_json:
        print_json([user_json(u) for u in found])
        return
    print_table(
        ["ID", "EMAIL", "ROLE", "STATE", "PASSWORD", "CREATED", "NAME"],
        [
            (
                u.id,
                u.email,
                u.role.value,
                "active" if u.active else "deactivated",
                "yes" if u.has_password else "no",
                when(u.created_at),
                u.name,
            )
            for u in found
        ],
    )
