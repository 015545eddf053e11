"""Admin pages: users, API keys and webhook endpoints, for role admin only (loops: admin_loops.py).

Every form is CSRF-checked by the router and calls the same service function as the API
(`service.loops`, `service.users`, `service.accounts`, `service.webhooks`). A form that changes
something answers with a redirect (POST/redirect/GET), so a reload repeats nothing; a secret
made here (an API key, an invite link, a webhook signing secret) rides that redirect once, sealed
for this session (flash.py), is shown on the page it leads to, and never again.
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
from ..service.sessions import WebSession
from ..service.webhooks import EndpointDraft
from . import flash
from .auth import AdminSession, Ctx
from .render import page, utc_text
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
    session: WebSession,
    *,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    flash_text: str | None = None,
    status: int = 200,
) -> Response:
    left = await flash.take(request, session)
    values = {
        "users": await _users(ctx),
        "me": session.user.id,
        "invite": left.get("invite"),
        "errors": errors or {},
        "sent": sent or {"email": "", "name": "", "role": "reviewer"},
        "flash": flash_text or left.get("text"),
        "flash_kind": "bad" if flash_text else left.get("kind", "ok"),
        "roles": list(UserRole),
        "section": "users",
    }
    return await page(request, "admin_users.html", values, status=status)


async def _back(request: Request, session: WebSession, to: str, **data: Any) -> RedirectResponse:
    """POST/redirect/GET: the page the form came from, with what it must show once."""
    response = RedirectResponse(to, status_code=303)
    await flash.put(request, response, session, to, **data)
    return response


def _invite(user: Any, issued: accounts.IssuedToken) -> dict[str, str]:
    return {
        "email": user.email,
        "name": user.name,
        "url": issued.url,
        "expires_at": utc_text(issued.token.expires_at),
    }


@router.get("/admin/users")
async def users_page(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    return await _users_page(request, ctx, session)


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
        return await _users_page(request, ctx, session, errors=errors, sent=sent, status=422)
    return await _back(request, session, "/admin/users", invite=_invite(user, invite))


@router.post("/admin/users/{user_id}")
async def change_user(request: Request, user_id: str, ctx: Ctx, session: AdminSession) -> Response:
    """One change per form: `role`, `deactivate`, `activate`, or `invite` (a new invite link)."""
    action = await form_text(request, "action")
    user = await user_service.get_user(ctx, user_id)
    try:
        if action == "invite":
            invite = await accounts.invite_user(ctx, session.principal, user_id)
            return await _back(request, session, "/admin/users", invite=_invite(user, invite))
        if user_id == session.user.id and action in ("role", "deactivate"):
            # The page offers neither on your own row; the service refuses it too.
            raise Conflict("you cannot change your own role or deactivate yourself")
        if action == "role":
            role = await form_text(request, "role")
            if role not in {r.value for r in UserRole}:
                raise ValidationFailed.field("role", "choose admin or reviewer")
            changes: dict[str, Any] = {"role": role}
            text = f"{user.email} is now {role}."
        elif action in ("deactivate", "activate"):
            changes = {"active": action == "activate"}
            text = f"{user.email} is {action}d."
        else:
            raise ValidationFailed.field("action", "choose what to change")
        await user_service.update_user(ctx, session.principal, user_id, changes)
    except (ValidationFailed, Conflict) as exc:
        refused = f"Not changed: {exc.detail}."
        return await _users_page(request, ctx, session, flash_text=refused, status=409)
    return await _back(request, session, "/admin/users", text=text)


# API keys


async def _keys_page(
    request: Request,
    ctx: Any,
    session: WebSession,
    *,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    users = await _users(ctx)
    left = await flash.take(request, session)
    values = {
        "keys": await user_service.list_keys(ctx, None, MAX_ROWS),
        "users": users,
        "by_id": {u.id: u for u in users},
        "roles": list(Role),
        "created": left.get("created"),
        "errors": errors or {},
        "sent": sent or {"name": "", "role": "requester", "user_id": ""},
        "flash": left.get("text"),
        "section": "keys",
    }
    return await page(request, "admin_keys.html", values, status=status)


@router.get("/admin/keys")
async def keys_page(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    return await _keys_page(request, ctx, session)


@router.post("/admin/keys")
async def create_key(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    sent = {
        "name": (await form_text(request, "name")).strip(),
        "role": await form_text(request, "role"),
        "user_id": await form_text(request, "user_id"),
    }
    try:
        if not sent["name"] or len(sent["name"]) > 200:
            raise ValidationFailed.field("name", "give the key a name of at most 200 characters")
        if sent["role"] not in {r.value for r in Role}:
            raise ValidationFailed.field("role", "choose admin, requester or reviewer")
        made = await user_service.create_key(
            ctx, session.principal, sent["name"], Role(sent["role"]), sent["user_id"] or None
        )
    except ValidationFailed as exc:
        return await _keys_page(request, ctx, session, errors=_errors(exc), sent=sent, status=422)
    created = {"name": made.key.name, "secret": made.secret}
    return await _back(request, session, "/admin/keys", created=created)


@router.post("/admin/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, ctx: Ctx, session: AdminSession) -> Response:
    key = await user_service.revoke_key(ctx, session.principal, key_id)
    text = f"The key {key.name} (sk_{key.prefix}…) is revoked."
    return await _back(request, session, "/admin/keys", text=text)


# Webhook endpoints


async def _webhooks_page(
    request: Request,
    ctx: Any,
    session: WebSession,
    *,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    left = await flash.take(request, session)
    values = {
        "endpoints": await webhook_service.list_endpoints(ctx, None, MAX_ROWS),
        "loops": {lp.id: lp for lp in await loop_service.list_loops(ctx, None, MAX_ROWS)},
        "secret": left.get("secret"),
        "errors": errors or {},
        "sent": sent or {"url": "", "description": "", "events": "", "loop_id": ""},
        "section": "webhooks",
    }
    return await page(request, "admin_webhooks.html", values, status=status)


@router.get("/admin/webhooks")
async def webhooks_page(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    return await _webhooks_page(request, ctx, session)


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
        errors = _errors(exc)
        return await _webhooks_page(request, ctx, session, errors=errors, sent=sent, status=422)
    made = {"url": endpoint.url, "value": secret}
    return await _back(request, session, "/admin/webhooks", secret=made)


async def _webhook_page(
    request: Request,
    ctx: Any,
    session: WebSession,
    endpoint_id: str,
    refused: str | None = None,
    status: int = 200,
) -> Response:
    endpoint = await webhook_service.get_endpoint(ctx, endpoint_id)
    messages = await webhook_service.deliveries(ctx, endpoint_id, None, None, DELIVERIES_SHOWN)
    left = await flash.take(request, session)
    values = {
        "endpoint": endpoint,
        "messages": messages,
        "flash": refused or left.get("text"),
        "flash_kind": "bad" if refused else "ok",
        "failed": MessageStatus.failed,
        "section": "webhooks",
    }
    return await page(request, "admin_webhook.html", values, status=status)


@router.get("/admin/webhooks/{endpoint_id}")
async def webhook_page(
    request: Request, endpoint_id: str, ctx: Ctx, session: AdminSession
) -> Response:
    return await _webhook_page(request, ctx, session, endpoint_id)


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
            text = f"Delivery {message_id} is queued to be sent again."
        elif action == "recover":
            since = ctx.clock() - timedelta(days=1)
            count = await webhook_service.recover(ctx, actor, endpoint_id, since)
            text = f"{count} failed deliveries of the last day are queued to be sent again."
        elif action == "test":
            await webhook_service.send_test(ctx, actor, endpoint_id)
            text = "A webhook.test event is on its way."
        elif action in ("enable", "disable"):
            enabled = action == "enable"
            await webhook_service.update_endpoint(ctx, actor, endpoint_id, {"enabled": enabled})
            text = f"The endpoint is {action}d."
        else:
            raise ValidationFailed.field("action", "choose what to do")
    except (Conflict, ValidationFailed) as exc:
        return await _webhook_page(request, ctx, session, endpoint_id, exc.detail, status=409)
    except NotFound:
        raise
    except SignoffError as exc:
        return await _webhook_page(request, ctx, session, endpoint_id, exc.detail, status=400)
    return await _back(request, session, f"/admin/webhooks/{endpoint_id}", text=text)
