"""/v1/webhooks: endpoints, their secrets and their delivery log."""

from __future__ import annotations

import json
from datetime import timedelta
from fnmatch import fnmatchcase

from fastapi import APIRouter, Response

from ..domain.model import EVENT_TYPES, Endpoint, Message, MessageStatus, Principal, Role
from ..errors import Forbidden, ValidationFailed
from ..service import deliveries as delivery_service
from ..service import webhooks as service
from ..service.context import Context
from ..service.webhooks import EndpointDraft
from .deps import Ctx, Limit, Writer, decode_cursor, id_cursor, page_of
from .idempotency import IdempotentRoute
from .schemas import (
    AttemptOut,
    MessageDetailOut,
    MessageOut,
    Page,
    RecoverIn,
    RecoverOut,
    RotateIn,
    SecretOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    WebhookWithSecretOut,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=IdempotentRoute)


def webhook_out(e: Endpoint) -> WebhookOut:
    return WebhookOut(
        id=e.id,
        url=e.url,
        description=e.description,
        events=list(e.events) if e.events is not None else None,
        loop_id=e.loop_id,
        enabled=e.enabled,
        disabled_reason=e.disabled_reason,
        failing_since=e.failing_since,
        previous_secret_valid_until=e.previous_secret_until,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def message_out(m: Message) -> MessageOut:
    return MessageOut(
        id=m.id,
        event_id=m.event_id,
        event_type=m.event_type,
        status=m.status.value,
        attempts=m.attempts,
        next_attempt_at=m.next_attempt_at,
        last_attempt_at=m.last_attempt_at,
        last_status_code=m.last_status_code,
        last_error=m.last_error,
        created_at=m.created_at,
        delivered_at=m.delivered_at,
    )


def _events_for(caller: Principal, events: list[str] | None) -> tuple[str, ...] | None:
    """A requester (a workflow) hears about requests only, not about people and keys."""
    for pattern in events or ():
        if not any(fnmatchcase(t, pattern) for t in EVENT_TYPES):
            raise ValidationFailed.field(
                "body.events", f"{pattern!r} matches no event type; see README, Webhooks"
            )
    if caller.role is Role.admin:
        return tuple(events) if events is not None else None
    if events is None:
        return ("request.*", "webhook.test")
    outside = [e for e in events if not (e.startswith("request.") or e == "webhook.test")]
    if outside:
        raise Forbidden(f"a requester key can subscribe to request events only, not {outside}")
    return tuple(events)


async def _mine(ctx: Context, caller: Principal, webhook_id: str) -> Endpoint:
    """The endpoint, if the caller may see and manage it: an admin any, a requester key only
    the ones it made (or it could point another workflow's endpoint, its secret or its
    delivery log at itself)."""
    endpoint = await service.get_endpoint(ctx, webhook_id)
    if caller.role is Role.admin:
        return endpoint
    if endpoint.created_by_key_id != caller.key_id:
        raise Forbidden(f"endpoint {webhook_id} was made by another key; only an admin manages it")
    try:  # an admin may have widened it since: then it is the admin's to manage
        _events_for(caller, list(endpoint.events) if endpoint.events is not None else ["*"])
    except Forbidden:
        raise Forbidden(
            f"endpoint {webhook_id} hears more than request events; only an admin manages it"
        ) from None
    return endpoint


@router.post("", status_code=201)
async def create_webhook(body: WebhookIn, ctx: Ctx, caller: Writer) -> WebhookWithSecretOut:
    draft = EndpointDraft(
        url=str(body.url),
        description=body.description,
        events=_events_for(caller, body.events),
        loop_id=body.loop_id,
        enabled=body.enabled,
    )
    endpoint, secret = await service.create_endpoint(ctx, caller, draft)
    return WebhookWithSecretOut(**webhook_out(endpoint).model_dump(), secret=secret)


@router.get("")
async def list_webhooks(
    ctx: Ctx, caller: Writer, limit: Limit, cursor: str | None = None
) -> Page[WebhookOut]:
    # A requester key lists the endpoints it made; an admin lists all.
    mine = None if caller.role is Role.admin else caller.key_id or ""
    found = await service.list_endpoints(ctx, decode_cursor(cursor, "whk"), limit + 1, mine)
    return page_of(found, limit, webhook_out, id_cursor)


@router.get("/callback-secret")
async def callback_secret(ctx: Ctx, caller: Writer) -> SecretOut:
    """The secret that signs deliveries to requests' own `callback` URLs."""
    return SecretOut(secret=await delivery_service.callback_secret(ctx))


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: str, ctx: Ctx, caller: Writer) -> WebhookOut:
    return webhook_out(await _mine(ctx, caller, webhook_id))


@router.patch("/{webhook_id}")
async def update_webhook(
    webhook_id: str, body: WebhookPatch, ctx: Ctx, caller: Writer
) -> WebhookOut:
    await _mine(ctx, caller, webhook_id)
    changes = body.changes()
    if "url" in changes:
        changes["url"] = str(changes["url"])
    if "events" in changes:
        changes["events"] = _events_for(caller, changes["events"])
    return webhook_out(await service.update_endpoint(ctx, caller, webhook_id, changes))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, ctx: Ctx, caller: Writer) -> Response:
    await _mine(ctx, caller, webhook_id)
    await service.delete_endpoint(ctx, caller, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/test", status_code=202)
async def test_webhook(webhook_id: str, ctx: Ctx, caller: Writer) -> Response:
    await _mine(ctx, caller, webhook_id)
    await service.send_test(ctx, caller, webhook_id)
    return Response(status_code=202)


@router.post("/{webhook_id}/rotate-secret")
async def rotate_secret(
    webhook_id: str, ctx: Ctx, caller: Writer, body: RotateIn | None = None
) -> WebhookWithSecretOut:
    await _mine(ctx, caller, webhook_id)
    grace = timedelta(seconds=(body or RotateIn()).grace_seconds)
    endpoint, secret = await service.rotate_secret(ctx, caller, webhook_id, grace)
    return WebhookWithSecretOut(**webhook_out(endpoint).model_dump(), secret=secret)


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: str,
    ctx: Ctx,
    caller: Writer,
    limit: Limit,
    cursor: str | None = None,
    status: MessageStatus | None = None,
) -> Page[MessageOut]:
    await _mine(ctx, caller, webhook_id)
    found = await service.deliveries(
        ctx, webhook_id, status, decode_cursor(cursor, "msg"), limit + 1
    )
    return page_of(found, limit, message_out, id_cursor)


@router.get("/{webhook_id}/deliveries/{message_id}")
async def get_delivery(
    webhook_id: str, message_id: str, ctx: Ctx, caller: Writer
) -> MessageDetailOut:
    await _mine(ctx, caller, webhook_id)
    message, attempts = await service.delivery(ctx, webhook_id, message_id)
    return MessageDetailOut(
        **message_out(message).model_dump(),
        payload=json.loads(message.payload),
        attempt_log=[AttemptOut(**a.__dict__) for a in attempts],
    )


@router.post("/{webhook_id}/deliveries/{message_id}/retry", status_code=202)
async def retry_delivery(webhook_id: str, message_id: str, ctx: Ctx, caller: Writer) -> MessageOut:
    await _mine(ctx, caller, webhook_id)
    return message_out(await service.redeliver(ctx, caller, webhook_id, message_id))


@router.post("/{webhook_id}/recover", status_code=202)
async def recover(webhook_id: str, body: RecoverIn, ctx: Ctx, caller: Writer) -> RecoverOut:
    """Redeliver every message that failed since `since`: after a receiver's outage."""
    await _mine(ctx, caller, webhook_id)
    return RecoverOut(requeued=await service.recover(ctx, caller, webhook_id, body.since))
