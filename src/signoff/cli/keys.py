"""`signoff keys create|list|revoke`"""

from __future__ import annotations

from typing import Any

import click

from ..domain.model import ApiKey, Role
from ..errors import NotFound, SignoffError
from ..service.context import Context
from ._common import CLI, JSON_OPTION, print_json, print_table, run, settings, when


def key_json(key: ApiKey) -> dict[str, Any]:
    """The key as the API answers it (GET /v1/api-keys): never its secret."""
    from ..api.out import key_out

    return key_out(key).model_dump(mode="json")


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="admin: everything; requester: create and read requests; reviewer: decide them.",
)
@click.option(
    "--user",
    "email",
    metavar="EMAIL",
    help="Email of the user the key acts for (needed for reviewer).",
)
@click.option("--name", default=None, help="A name to recognise the key by.")
def keys_create(role: str, email: str | None, name: str | None) -> None:
    """Create a key and print only the key on stdout, for scripts."""
    from ..service import users

    async def work(ctx: Context) -> str:
        user_id = None
        if email:
            user = await users.find_user_by_email(ctx, email)
            if user is None:
                raise SignoffError(f"no user with email {email}")
            user_id = user.id
        created = await users.create_key(ctx, CLI, name or f"{role} key", Role(role), user_id)
        return created.secret

    click.echo(run(settings(), work))


@keys.command("list")
@JSON_OPTION
def keys_list(as_json: bool) -> None:
    """List keys, oldest first (never their secrets: the prefix tells them apart).

    \b
    Examples:
      signoff keys list
      signoff keys list --json | jq -r '.[] | select(.revoked_at == null) | .id'
    """
    from ..service import users

    async def work(ctx: Context) -> tuple[list[ApiKey], dict[str, str]]:
        found: list[ApiKey] = []
        after = None
        while page := await users.list_keys(ctx, after, 500):
            found += page
            after = page[-1].id
        emails: dict[str, str] = {}
        for user_id in {k.user_id for k in found if k.user_id}:
            try:
                emails[user_id] = (await users.get_user(ctx, user_id)).email
            except NotFound:
                emails[user_id] = user_id
        return found, emails

    found, emails = run(settings(), work)
    if as_json:
        print_json([key_json(k) for k in found])
        return
    print_table(
        ["ID", "PREFIX", "ROLE", "STATE", "USER", "CREATED", "NAME"],
        [
            (
                k.id,
                f"sk_{k.prefix}…",
                k.role.value,
                "revoked" if k.revoked_at else "active",
                emails.get(k.user_id, k.user_id) if k.user_id else "-",
                when(k.created_at),
                k.name,
            )
            for k in found
        ],
    )


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (key_…)."""
    from ..service import users

    async def work(ctx: Context) -> None:
        await users.revoke_key(ctx, CLI, key_id)
        click.echo(f"revoked {key_id}")

    run(settings(), work)
