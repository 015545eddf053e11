"""Admin pages: users, API keys and webhook endpoints, for role admin only (loops: admin_loops.py).

Every form is CSRF-checked by the router and calls the same service function as the API
(`service.loops`, `service.users`, `service.accounts`, `service.webhooks`). A secret made here
(an API key, an invite link, a webhook signing secret) is shown once, on the page that answers
the form, and never again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ..domain.model import EVENT_TYPES, MessageStatus, Role, UserRole
from ..errors import Conflict, NotFound, SignoffError, ValidationFailed
from ..service import accounts
from ..service import loops as loop_service
from ..service import users as user_service
from ..service import webhooks as webhook_service
from ..service.webhooks import EndpointDraft
from .auth import AdminSession, Ctx
from .render import page
from .routing import form_text, web_router

router = web_router()
MAX_ROWS = 500  # an admin list shows this many; more is a job for the API
DELIVERIES_SHOWN = 50


def _errors(exc: ValidationFailed) -> dict[str, str]:
    """Service field paths (`body.reviewers`) as the form's field names (`reviewers`)."""
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault(e.field.removeprefix("body.").removeprefix("form.").split(".")[0], e.message)
    return out or {"form": exc.detail}


@router.get("/admin")
async def admin_home(session: AdminSession) -> Response:
    return RedirectResponse("/admin/loops", status_code=303)


async def _users(ctx: Any) -> list[Any]:
    return await user_service.list_users(ctx, None, MAX_ROWS)


# Users


async def _users_page(
    request: Request,
    ctx: Any,
    *,
    invite: accounts.IssuedToken | None = None,
    invited: Any = None,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    flash: str | None = None,
    status: int = 200,
) -> Response:
    values = {
        "users": await _users(ctx),
        "invite": invite,
        "invited": invited,
        "errors": errors or {},
        "sent": sent or {"email": "", "name": "", "role": "reviewer"},
        "flash": flash,
        "roles": list(UserRole),
        "section": "users",
    }
    return await page(request, "admin_users.html", values, status=status)


@router.get("/admin/users")
async def users_page(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    return await _users_page(request, ctx)


@router.post("/admin/users")
async def invite_new_user(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    sent = {
        "email": (await form_text(request, "email")).strip(),
        "name": (await form_text(request, "name")).strip(),
        "role": await form_text(request, "role", "reviewer"),
    }
    try:
        if "@" not in sent["email"] or "." not in sent["email"].rsplit("@", 1)[-1]:
            raise ValidationFailed.field("email", "not an email address")
        if not sent["name"] or len(sent["name"]) > 200:
            raise ValidationFailed.field("name", "give a name of at most 200 characters")
        if sent["role"] not in {r.value for r in UserRole}:
            raise ValidationFailed.field("role", "choose admin or reviewer")
        user, invite = await accounts.create_invited_user(
            ctx, session.principal, sent["email"], sent["name"], UserRole(sent["role"])
        )
    except (ValidationFailed, Conflict) as exc:
        errors = _errors(exc) if isinstance(exc, ValidationFailed) else {"email": exc.detail}
        return await _users_page(request, ctx, errors=errors, sent=sent, status=422)
    return await _users_page(request, ctx, invite=invite, invited=user)


@router.post("/admin/users/{user_id}")
async def change_user(request: Request, user_id: str, ctx: Ctx, session: AdminSession) -> Response:
    """One change per form: `role`, `deactivate`, `activate`, or `invite` (a new invite link)."""
    action = await form_text(request, "action")
    user = await user_service.get_user(ctx, user_id)
    try:
        if action == "invite":
            invite = await accounts.invite_user(ctx, session.principal, user_id)
            return await _users_page(request, ctx, invite=invite, invited=user)
        if action == "role":
            role = await form_text(request, "role")
            if role not in {r.value for r in UserRole}:
                raise ValidationFailed.field("role", "choose admin or reviewer")
            changes: dict[str, Any] = {"role": role}
            flash = f"{user.email} is now {role}."
        elif action in ("deactivate", "activate"):
            changes = {"active": action == "activate"}
            flash = f"{user.email} is {action}d."
        else:
            raise ValidationFailed.field("action", "choose what to change")
        await user_service.update_user(ctx, session.principal, user_id, changes)
    except (ValidationFailed, Conflict) as exc:
        return await _users_page(request, ctx, flash=exc.detail, status=409)
    return await _users_page(request, ctx, flash=flash)


# API keys


async def _keys_page(
    request: Request,
    ctx: Any,
    *,
    created: user_service.CreatedKey | None = None,
    errors: dict[str, str] | None = None,
    flash: str | None = None,
    status: int = 200,
) -> Response:
    users = await _users(ctx)
    values = {
        "keys": await user_service.list_keys(ctx, None, MAX_ROWS),
        "users": users,
        "by_id": {u.id: u for u in users},
        "roles": list(Role),
        "created": created,
        "errors": errors or {},
        "flash": flash,
        "section": "keys",
    }
    return await page(request, "admin_keys.html", values, status=status)


@router.get("/admin/keys")
async def keys_page(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    return await _keys_page(request, ctx)


@router.post("/admin/keys")
async def create_key(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    name = (await form_text(request, "name")).strip()
    role = await form_text(request, "role")
    user_id = (await form_text(request, "user_id")) or None
    try:
        if not name or len(name) > 200:
            raise ValidationFailed.field("name", "give the key a name of at most 200 characters")
        if role not in {r.value for r in Role}:
            raise ValidationFailed.field("role", "choose admin, requester or reviewer")
        created = await user_service.create_key(ctx, session.principal, name, Role(role), user_id)
    except ValidationFailed as exc:
        return await _keys_page(request, ctx, errors=_errors(exc), status=422)
    return await _keys_page(request, ctx, created=created)


@router.post("/admin/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, ctx: Ctx, session: AdminSession) -> Response:
    key = await user_service.revoke_key(ctx, session.principal, key_id)
    return await _keys_page(
        request, ctx, flash=f"The key {key.name} (sk_{key.prefix}…) is revoked."
    )


# Webhook endpoints


async def _webhooks_page(
    request: Request,
    ctx: Any,
    *,
    secret: str | None = None,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    values = {
        "endpoints": await webhook_service.list_endpoints(ctx, None, MAX_ROWS),
        "loops": {lp.id: lp for lp in await loop_service.list_loops(ctx, None, MAX_ROWS)},
        "secret": secret,
        "errors": errors or {},
        "sent": sent or {"url": "", "description": "", "events": "", "loop_id": ""},
        "section": "webhooks",
    }
    return await page(request, "admin_webhooks.html", values, status=status)


@router.get("/admin/webhooks")
async def webhooks_page(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    return await _webhooks_page(request, ctx)


def _event_patterns(raw: str) -> tuple[str, ...] | None:
    patterns = tuple(p.strip() for p in raw.replace("\n", ",").split(",") if p.strip())
    for p in patterns:
        family = p.split(".")[0]
        if (
            p != "*"
            and p not in EVENT_TYPES
            and not (p.endswith(".*") and any(t.startswith(family + ".") for t in EVENT_TYPES))
        ):
            raise ValidationFailed.field("events", f"{p!r} is not an event type or pattern")
    return patterns or None


@router.post("/admin/webhooks")
async def create_webhook(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    sent = {
        "url": (await form_text(request, "url")).strip(),
        "description": (await form_text(request, "description")).strip(),
        "events": await form_text(request, "events"),
        "loop_id": await form_text(request, "loop_id"),
    }
    try:
        if not sent["url"].startswith(("http://", "https://")) or len(sent["url"]) > 2048:
            raise ValidationFailed.field("url", "give an http:// or https:// URL")
        draft = EndpointDraft(
            url=sent["url"],
            description=sent["description"],
            events=_event_patterns(sent["events"]),
            loop_id=sent["loop_id"] or None,
        )
        endpoint, secret = await webhook_service.create_endpoint(ctx, session.principal, draft)
    except ValidationFailed as exc:
        return await _webhooks_page(request, ctx, errors=_errors(exc), sent=sent, status=422)
    return await _webhooks_page(request, ctx, secret=f"{endpoint.url}: {secret}")


async def _webhook_page(
    request: Request, ctx: Any, endpoint_id: str, flash: str | None = None, status: int = 200
) -> Response:
    endpoint = await webhook_service.get_endpoint(ctx, endpoint_id)
    messages = await webhook_service.deliveries(ctx, endpoint_id, None, None, DELIVERIES_SHOWN)
    values = {
        "endpoint": endpoint,
        "messages": messages,
        "flash": flash,
        "failed": MessageStatus.failed,
        "section": "webhooks",
    }
    return await page(request, "admin_webhook.html", values, status=status)


@router.get("/admin/webhooks/{endpoint_id}")
async def webhook_page(
    request: Request, endpoint_id: str, ctx: Ctx, session: AdminSession
) -> Response:
    return await _webhook_page(request, ctx, endpoint_id)


@router.post("/admin/webhooks/{endpoint_id}")
async def webhook_action(
    request: Request, endpoint_id: str, ctx: Ctx, session: AdminSession
) -> Response:
    """`retry` one delivery (`message_id`), `recover` the failed ones of the last day,
    `test`, `enable` or `disable`."""
    action = await form_text(request, "action")
    actor = session.principal
    try:
        if action == "retry":
            message_id = await form_text(request, "message_id")
            await webhook_service.redeliver(ctx, actor, endpoint_id, message_id)
            flash = f"Delivery {message_id} is queued to be sent again."
        elif action == "recover":
            since = ctx.clock() - timedelta(days=1)
            count = await webhook_service.recover(ctx, actor, endpoint_id, since)
            flash = f"{count} failed deliveries of the last day are queued to be sent again."
        elif action == "test":
            await webhook_service.send_test(ctx, actor, endpoint_id)
            flash = "A webhook.test event is on its way."
        elif action in ("enable", "disable"):
            enabled = action == "enable"
            await webhook_service.update_endpoint(ctx, actor, endpoint_id, {"enabled": enabled})
            flash = f"The endpoint is {action}d."
        else:
            raise ValidationFailed.field("action", "choose what to do")
    except (Conflict, ValidationFailed) as exc:
        return await _webhook_page(request, ctx, endpoint_id, exc.detail, status=409)
    except NotFound:
        raise
    except SignoffError as exc:
        return await _webhook_page(request, ctx, endpoint_id, exc.detail, status=400)
    return await _webhook_page(request, ctx, endpoint_id, flash)
