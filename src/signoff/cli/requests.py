"""`signoff requests list|show|approve|reject|cancel`

Decisions go through the same use case as the API's `POST /v1/requests/{id}/decisions`, as the
reviewer named by `--as`: the same membership check, self-approval ban, quorum and binding of
the vote to the content it was cast on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click

from ..domain.model import Choice, ContentType, Principal, Request, Role, Status, UserRole, Vote
from ..domain.voting import Ballot
from ..errors import Forbidden, NotFound, ValidationFailed
from ..service.context import Context
from ._common import (
    CLI,
    JSON_OPTION,
    print_json,
    print_table,
    run,
    settings,
    short,
    text,
    when,
)

PAGE = 500
F = TypeVar("F", bound=Callable[..., Any])
VOTE_OPTIONS = {
    "body.feedback": "--feedback",
    "body.edited_content": "--content",
    "body.response_data": "--response-data",
    "body.content_hash": "--content-hash",
}


def request_json(ctx: Context, request: Request) -> dict[str, Any]:
    """The request as the API answers it (GET /v1/requests/{id})."""
    from ..api.out import request_out

    return request_out(ctx, request).model_dump(mode="json")


def vote_json(vote: Vote) -> dict[str, Any]:
    return {
        "id": vote.id,
        "voter": vote.voter,
        "choice": vote.choice.value,
        "feedback": vote.feedback,
        "edited_content": vote.edited_content,
        "response_data": vote.response_data,
        "content_hash": vote.content_hash,
        "created_at": vote.created_at.isoformat().replace("+00:00", "Z"),
        "voided_at": vote.voided_at.isoformat().replace("+00:00", "Z") if vote.voided_at else None,
    }


async def reviewer(ctx: Context, email: str) -> Principal:
    """The person who decides, acting as themselves: their role, their loops, their name."""
    from ..service import users

    user = await users.find_user_by_email(ctx, email)
    if user is None:
        raise NotFound(f"no user with email {email}")
    if not user.active:
        raise Forbidden(f"user {user.email} is deactivated")
    role = Role.admin if user.role is UserRole.admin else Role.reviewer
    return Principal(role=role, user_id=user.id, user_email=user.email, name=user.name)


async def _loop_names(ctx: Context) -> dict[str, str]:
    from ..service import loops

    names: dict[str, str] = {}
    after = None
    while page := await loops.list_loops(ctx, after, PAGE):
        names.update((loop.id, loop.name) for loop in page)
        after = page[-1].id
    return names


@click.group()
def requests() -> None:
    """Read, decide and cancel review requests."""


@requests.command("list")
@click.option("--loop", "loop_ref", metavar="LOOP", help="Only this loop (its id or name).")
@click.option("--status", type=click.Choice([s.value for s in Status]), help="Only this status.")
@click.option(
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=50,
    show_default=True,
    help="Show at most this many, newest first.",
)
@JSON_OPTION
def requests_list(loop_ref: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List requests, newest first.

    \b
    Examples:
      signoff requests list --status pending
      signoff requests list --loop payments --json | jq -r '.[].id'
    """
    from ..service import loops
    from ..service import requests as service

    async def work(ctx: Context) -> tuple[list[dict[str, Any]], dict[str, str], bool]:
        loop_id = (await loops.find_loop(ctx, loop_ref)).id if loop_ref else None
        found: list[Request] = []
        cursor = None
        more = False
        while len(found) < limit:
            page, cursor = await service.list_requests(
                ctx,
                CLI,
                loop_id=loop_id,
                status=Status(status) if status else None,
                priority=None,
                created_after=None,
                created_before=None,
                cursor=cursor,
                limit=min(PAGE, limit - len(found)),
            )
            found += page
            more = cursor is not None
            if not more:
                break
        return [request_json(ctx, r) for r in found], await _loop_names(ctx), more

    found, names, more = run(settings(), work)
    if as_json:
        print_json(found)
        return
    print_table(
        ["ID", "STATUS", "PRIORITY", "LOOP", "CREATED", "TITLE"],
        [
            (
                r["id"],
                r["decision"] or r["status"],
                r["priority"],
                names.get(r["loop_id"], r["loop_id"]),
                r["created_at"][:16].replace("T", " "),
                short(r["title"] or r["content"], 50),
            )
            for r in found
        ],
    )
    if more:
        click.echo(f"(showing the newest {limit}; more with --limit)", err=True)


@requests.command("show")
@click.argument("request_id")
@JSON_OPTION
def requests_show(request_id: str, as_json: bool) -> None:
    """Show one request: content, context, analysis, votes and decision."""
    from ..service import requests as service
    from ..service import votes

    async def work(ctx: Context) -> tuple[dict[str, Any], list[Vote], str]:
        request = await service.get_request(ctx, CLI, request_id)
        cast = await votes.list_votes(ctx, CLI, request_id)
        loop_name = (await _loop_names(ctx)).get(request.loop_id, "a deleted loop")
        return request_json(ctx, request), cast, loop_name

    shown, cast, loop_name = run(settings(), work)
    if as_json:
        print_json({**shown, "votes": [vote_json(v) for v in cast]})
        return
    _print_request(shown, cast, loop_name)


def _block(title: str, value: Any) -> None:
    if value in (None, {}, [], ""):
        return
    click.echo(f"\n── {title}")
    click.echo(value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False))


def _print_request(r: dict[str, Any], cast: list[Vote], loop_name: str) -> None:
    live = [v for v in cast if v.voided_at is None]
    approvals = sum(v.choice is Choice.approve for v in live)
    state = r["status"] + (f": {r['decision']}" if r["decision"] else "")
    if r["status"] == "pending":
        state += f" ({approvals} of {r['required_approvals']} approvals)"
    click.echo(f"{r['id']}  {r['title'] or ''}".rstrip())
    for label, value in (
        ("loop", f"{loop_name} ({r['loop_id']})"),
        ("status", state),
        ("priority", r["priority"]),
        ("requested by", r["requested_by"]),
        ("created", r["created_at"]),
        ("deadline", r["deadline_at"]),
        ("completed", r["completed_at"]),
        ("revision of", r["previous_request_id"]),
        ("content hash", r["content_hash"]),
        ("review link", r["review_url"]),
    ):
        if value:
            click.echo(f"  {label + ':':<14}{value}")
    _block(f"content ({r['content_type']})", r["content"])
    _block("context", r["context"])
    _block("metadata", r["metadata"])
    _block("AI analysis", r["ai_analysis"])
    if r["response"]["type"] != "approval":
        _block("answer expected", r["response"])
    if cast:
        click.echo("\n── votes")
        for v in cast:
            who = v.voter.get("email") or v.voter.get("name") or v.voter.get("key_id")
            voided = "  (voided: the content changed)" if v.voided_at else ""
            said = f": {short(v.feedback, 70)}" if v.feedback else ""
            click.echo(f"  {when(v.created_at)}  {who}  {v.choice.value}{said}{voided}")
    if r["status"] != "pending":
        _block("feedback", r["feedback"])
        if r["edited"]:
            _block("final content (edited by the reviewer)", r["final_content"])
        _block("answer", r["response_data"])


def _vote_options(approve: bool) -> list[Any]:
    options = [
        click.argument("request_id"),
        click.option(
            "--as",
            "email",
            required=True,
            metavar="EMAIL",
            help="The reviewer who decides (a user of a loop's reviewers, or an admin).",
        ),
        click.option(
            "--feedback",
            required=not approve,
            callback=text,
            help="What the reviewer says" + ("." if approve else " (required: say why)."),
        ),
        click.option(
            "--content-hash",
            metavar="HASH",
            help="The content hash the reviewer read (`requests show`): refused if the content "
            "changed since.",
        ),
        JSON_OPTION,
    ]
    return options


def _decorate(options: list[Any]) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


def _decide(
    request_id: str, email: str, ballot_of: Any, as_json: bool, options: dict[str, str]
) -> None:
    from ..service import requests as service
    from ..service import votes

    async def work(ctx: Context) -> dict[str, Any]:
        voter = await reviewer(ctx, email)
        current = await service.get_request(ctx, voter, request_id)
        request, verdict, cast = await votes.vote(ctx, voter, request_id, ballot_of(current))
        return {
            "vote_id": cast.id,
            "request_id": request_id,
            "choice": cast.choice.value,
            "approvals": verdict.approvals,
            "required_approvals": request.required_approvals,
            "status": request.status.value,
            "decision": request.decision.value if request.decision else None,
        }

    answer = run(settings(), work, options=options)
    if as_json:
        print_json(answer)
    elif answer["decision"]:
        click.echo(f"{request_id} {answer['decision']}")
    else:
        click.echo(
            f"{request_id}: vote recorded, {answer['approvals']} of "
            f"{answer['required_approvals']} approvals; still pending"
        )


def _edited(request: Request, value: str | None, file: IO[str] | None) -> Any:
    raw = file.read() if file is not None else value
    if raw is None:
        return None
    if request.content_type is not ContentType.json:
        return raw
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed.field(
            "body.edited_content", f"this request's content is JSON; that is not JSON: {exc}"
        ) from None


@requests.command("approve")
@_decorate(_vote_options(approve=True))
@click.option(
    "--content",
    callback=text,
    help="The content as the reviewer edited it (JSON text for a JSON request).",
)
@click.option(
    "--content-file",
    type=click.File("r"),
    help="The edited content from a file ('-' for stdin).",
)
@click.option(
    "--response-data",
    metavar="JSON",
    help="The answer, for a request that asks for a choice, text or a form (JSON).",
)
def requests_approve(
    request_id: str,
    email: str,
    feedback: str | None,
    content_hash: str | None,
    as_json: bool,
    content: str | None,
    content_file: IO[str] | None,
    response_data: str | None,
) -> None:
    """Approve a request as the reviewer given by --as.

    \b
    Examples:
      signoff requests approve req_01J… --as ann@example.com
      signoff requests approve req_01J… --as ann@example.com --content "Dear Jo, …"
    """
    if content is not None and content_file is not None:
        raise click.UsageError("give --content or --content-file, not both")
    answer = None
    if response_data is not None:
        try:
            answer = json.loads(response_data)
        except ValueError:
            raise click.BadParameter("is not JSON", param_hint="--response-data") from None

    def ballot(request: Request) -> Ballot:
        return Ballot(
            Choice.approve,
            feedback=feedback,
            edited_content=_edited(request, content, content_file),
            response_data=answer,
            content_hash=content_hash,
        )

    _decide(request_id, email, ballot, as_json, VOTE_OPTIONS)


@requests.command("reject")
@_decorate(_vote_options(approve=False))
@click.option(
    "--needs-changes",
    is_flag=True,
    help="Ask for changes instead: the workflow may send a revision.",
)
def requests_reject(
    request_id: str,
    email: str,
    feedback: str,
    content_hash: str | None,
    as_json: bool,
    needs_changes: bool,
) -> None:
    """Reject a request (or ask for changes) as the reviewer given by --as, saying why.

    \b
    Example:
      signoff requests reject req_01J… --as ann@example.com --feedback "Wrong customer"
    """
    choice = Choice.needs_changes if needs_changes else Choice.reject

    def ballot(_: Request) -> Ballot:
        return Ballot(choice, feedback=feedback, content_hash=content_hash)

    _decide(request_id, email, ballot, as_json, VOTE_OPTIONS)


@requests.command("cancel")
@click.argument("request_id")
@click.option("--reason", callback=text, help="Why; kept in the audit log and sent with events.")
@JSON_OPTION
def requests_cancel(request_id: str, reason: str | None, as_json: bool) -> None:
    """Cancel a pending request: nobody can decide it any more."""
    from ..service import requests as service

    async def work(ctx: Context) -> dict[str, Any]:
        return request_json(ctx, await service.cancel_request(ctx, CLI, request_id, reason))

    cancelled = run(settings(), work)
    if as_json:
        print_json(cancelled)
    else:
        click.echo(f"{request_id} cancelled")
