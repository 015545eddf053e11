"""`signoff loops create|list`"""

from __future__ import annotations

from typing import Any

import click

from ..domain.model import Loop
from ..errors import ValidationFailed
from ..service.context import Context
from ._common import CLI, JSON_OPTION, print_json, print_table, run, settings, text


def loop_json(loop: Loop) -> dict[str, Any]:
    """The loop as the API answers it (GET /v1/loops/{id})."""
    from ..api.out import loop_out

    return loop_out(loop).model_dump(mode="json")


def _name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = (text(ctx, param, value) or "").strip()
    if not 1 <= len(value) <= 200:
        raise click.BadParameter("needs 1 to 200 characters", param=param)
    return value


def _duration(seconds: int | None) -> str:
    if not seconds:
        return "none"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.group()
def loops() -> None:
    """Manage loops: named review queues with their reviewers and policy."""


@loops.command("create")
@click.argument("name", callback=_name)
@click.option(
    "--reviewer",
    "reviewers",
    multiple=True,
    metavar="EMAIL",
    help="A reviewer's email; repeat for each reviewer (they must exist: `signoff users create`).",
)
@click.option(
    "--approvals",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Approvals a request needs.",
)
@click.option(
    "--allow-self-approval",
    is_flag=True,
    help="Let whoever asked approve their own request (refused by default).",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 365 * 24 * 3600),
    metavar="SECONDS",
    help="Default time a request may wait for a decision.",
)
@click.option("--description", default="", callback=text, help="What the loop is for.")
@JSON_OPTION
def loops_create(
    name: str,
    reviewers: tuple[str, ...],
    approvals: int,
    allow_self_approval: bool,
    timeout: int | None,
    description: str,
    as_json: bool,
) -> None:
    """Create a loop; prints its id on stdout (or the loop as JSON).

    \b
    Example:
      signoff loops create payments --reviewer ann@example.com --reviewer bo@example.com \\
          --approvals 2 --timeout 86400
    """
    from ..service import loops as service
    from ..service import users

    async def work(ctx: Context) -> Loop:
        ids = []
        for email in reviewers:
            user = await users.find_user_by_email(ctx, email)
            if user is None:
                raise ValidationFailed.field("body.reviewers", f"no user with email {email}")
            ids.append(user.id)
        draft = service.LoopDraft(
            name=name,
            description=description,
            reviewers=tuple(ids),
            required_approvals=approvals,
            allow_self_approval=allow_self_approval,
            default_timeout_seconds=timeout,
        )
        return await service.create_loop(ctx, CLI, draft)

    loop = run(settings(), work, options={"body.reviewers": "--reviewer"})
    if as_json:
        print_json(loop_json(loop))
    else:
        click.echo(loop.id)


@loops.command("list")
@JSON_OPTION
def loops_list(as_json: bool) -> None:
    """List loops with their reviewers and policy, oldest first."""
    from ..service import loops as service
    from ..service import users

    async def work(ctx: Context) -> tuple[list[Loop], dict[str, str]]:
        found: list[Loop] = []
        after = None
        while page := await service.list_loops(ctx, after, 500):
            found += page
            after = page[-1].id
        emails: dict[str, str] = {}
        for reviewer in {r for loop in found for r in loop.reviewers}:
            emails[reviewer] = (await users.get_user(ctx, reviewer)).email
        return found, emails

    found, emails = run(settings(), work)
    if as_json:
        print_json([loop_json(loop) for loop in found])
        return
    print_table(
        ["ID", "NAME", "APPROVALS", "SELF-APPROVAL", "TIMEOUT", "REVIEWERS"],
        [
            (
                loop.id,
                loop.name,
                loop.required_approvals,
                "allowed" if loop.allow_self_approval else "refused",
                _duration(loop.default_timeout_seconds),
                ", ".join(emails[r] for r in loop.reviewers) or "(admins only)",
            )
            for loop in found
        ],
    )
