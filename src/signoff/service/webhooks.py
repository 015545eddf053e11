"""Use cases for webhook endpoints and their delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..domain.ids import new_id
from ..domain.model import Attempt, Endpoint, Message, MessageStatus, Principal
from ..errors import Conflict, NotFound, ValidationFailed
from ..store import loops as loop_store
from ..store import outbox as outbox_store
from ..store import webhooks as store
from ..store.db import Conn
from ..webhook_signing import new_secret
from .context import Context, transaction


@dataclass(frozen=True)
class EndpointDraft:
    url: str
    description: str = ""
    events: tuple[str, ...] | None = None
    loop_id: str | None = None
    enabled: bool = True


def _snapshot(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events) if endpoint.events is not None else None,
        "loop_id": endpoint.loop_id,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
    }


async def _check(ctx: Context, conn: Conn, url: str | None, loop_id: str | None) -> None:
    if url is not None and ctx.check_url is not None:
        await ctx.check_url(url, "body.url")
    if loop_id is not None and await loop_store.get_loop(conn, loop_id) is None:
        raise ValidationFailed.field("body.loop_id", f"no loop with id {loop_id!r}")


async def _get(conn: Conn, endpoint_id: str, *, for_update: bool = False) -> Endpoint:
    endpoint = await store.get_endpoint(conn, endpoint_id, for_update=for_update)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint with id {endpoint_id!r}")
    return endpoint


async def _enabled(conn: Conn, endpoint_id: str) -> Endpoint:
    # Locked: its messages change next (see store/webhooks.py lock_endpoints).
    endpoint = await _get(conn, endpoint_id, for_update=True)
    if not endpoint.enabled:
        raise Conflict(
            f"endpoint {endpoint_id} is disabled ({endpoint.disabled_reason}); enable it first"
        )
    return endpoint


async def create_endpoint(
    ctx: Context, actor: Principal, draft: EndpointDraft
) -> tuple[Endpoint, str]:
    """The new endpoint and its signing secret (which is shown only now)."""
    if ctx.check_url is not None:
        await ctx.check_url(draft.url, "body.url")
    secret = new_secret()
    async with transaction(ctx) as tx:
        await _check(ctx, tx.conn, None, draft.loop_id)
        endpoint_id = new_id("whk", tx.now)
        await store.insert_endpoint(
            tx.conn,
            {
                "id": endpoint_id,
                "url": draft.url,
                "description": draft.description,
                "events": list(draft.events) if draft.events is not None else None,
                "loop_id": draft.loop_id,
                "enabled": draft.enabled,
                "secret": secret,
                "created_by_key_id": actor.key_id,
                "created_at": tx.now,
                "updated_at": tx.now,
            },
        )
        endpoint = await _get(tx.conn, endpoint_id)
        tx.record("webhook.created", actor.actor(), _snapshot(endpoint))
    return endpoint, secret


async def get_endpoint(ctx: Context, endpoint_id: str) -> Endpoint:
    async with ctx.db.read() as conn:
        return await _get(conn, endpoint_id)


async def list_endpoints(
    ctx: Context, after: str | None, limit: int, created_by: str | None = None
) -> list[Endpoint]:
    async with ctx.db.read() as conn:
        return await store.list_endpoints(conn, after, limit, created_by)


async def update_endpoint(
    ctx: Context, actor: Principal, endpoint_id: str, changes: dict[str, Any]
) -> Endpoint:
    """Change an endpoint; re-enabling one clears its failure record and reason, disabling one
    fails the messages still waiting."""
    if "url" in changes and ctx.check_url is not None:
        await ctx.check_url(changes["url"], "body.url")
    values = dict(changes)
    if "events" in values and values["events"] is not None:
        values["events"] = list(values["events"])
    if values.get("enabled") is True:
        values.update(disabled_reason=None, failing_since=None)
    async with transaction(ctx) as tx:
        await _get(tx.conn, endpoint_id, for_update=True)
        if "loop_id" in values:
            await _check(ctx, tx.conn, None, values["loop_id"])
        await store.update_endpoint(tx.conn, endpoint_id, {**values, "updated_at": tx.now})
        if values.get("enabled") is False:
            # As when the dispatcher disables it: what waits fails, and can be recovered later.
            await outbox_store.fail_pending_of_endpoint(
                tx.conn, endpoint_id, "endpoint disabled by an update"
            )
        endpoint = await _get(tx.conn, endpoint_id)
        tx.record(
            "webhook.updated", actor.actor(), {**_snapshot(endpoint), "changed": sorted(changes)}
        )
    return endpoint


async def rotate_secret(
    ctx: Context, actor: Principal, endpoint_id: str, grace: timedelta
) -> tuple[Endpoint, str]:
    """A new secret; the old one keeps signing beside it until the grace period ends."""
    secret = new_secret()
    async with transaction(ctx) as tx:
        await _get(tx.conn, endpoint_id)
        [current, *_] = await store.signing_secrets(tx.conn, endpoint_id, tx.now)
        await store.update_endpoint(
            tx.conn,
            endpoint_id,
            {
                "secret": secret,
                "previous_secret": current,
                "previous_secret_until": tx.now + grace,
                "updated_at": tx.now,
            },
        )
        endpoint = await _get(tx.conn, endpoint_id)
        tx.record(
            "webhook.secret_rotated",
            actor.actor(),
            {"id": endpoint_id, "previous_valid_until": (tx.now + grace).isoformat()},
        )
    return endpoint, secret


async def delete_endpoint(ctx: Context, actor: Principal, endpoint_id: str) -> None:
    async with transaction(ctx) as tx:
        endpoint = await _get(tx.conn, endpoint_id, for_update=True)
        await store.update_endpoint(
            tx.conn, endpoint_id, {"deleted_at": tx.now, "enabled": False, "updated_at": tx.now}
        )
        await outbox_store.fail_pending_of_endpoint(tx.conn, endpoint_id, "endpoint deleted")
        tx.record("webhook.deleted", actor.actor(), _snapshot(endpoint))


async def send_test(ctx: Context, actor: Principal, endpoint_id: str) -> None:
    """A `webhook.test` event, delivered to this endpoint only (refused while it is disabled,
    as it would not be sent)."""
    async with transaction(ctx) as tx:
        endpoint = await _enabled(tx.conn, endpoint_id)
        tx.record(
            "webhook.test",
            actor.actor(),
            {"endpoint_id": endpoint.id, "message": "This is a test from Signoff."},
        )
        tx.events[-1].extra["endpoint_id"] = endpoint.id


async def deliveries(
    ctx: Context, endpoint_id: str, status: MessageStatus | None, before: str | None, limit: int
) -> list[Message]:
    async with ctx.db.read() as conn:
        await _get(conn, endpoint_id)
        return await outbox_store.list_messages(
            conn, endpoint_id=endpoint_id, status=status, before=before, limit=limit
        )


async def delivery(
    ctx: Context, endpoint_id: str, message_id: str
) -> tuple[Message, list[Attempt]]:
    async with ctx.db.read() as conn:
        message = await outbox_store.get_message(conn, message_id)
        if message is None or message.endpoint_id != endpoint_id:
            raise NotFound(f"no message {message_id!r} for endpoint {endpoint_id}")
        return message, await outbox_store.list_attempts(conn, message_id)


async def redeliver(ctx: Context, actor: Principal, endpoint_id: str, message_id: str) -> Message:
    """Send one message again now, whatever became of it (same webhook-id)."""
    async with transaction(ctx) as tx:
        await _enabled(tx.conn, endpoint_id)
        message = await outbox_store.get_message(tx.conn, message_id)
        if message is None or message.endpoint_id != endpoint_id:
            raise NotFound(f"no message {message_id!r} for endpoint {endpoint_id}")
        await outbox_store.requeue(tx.conn, tx.now, message_id=message_id)
        tx.record(
            "webhook.redelivery",
            actor.actor(),
            {"endpoint_id": endpoint_id, "message_ids": [message_id]},
        )
        tx.wake = True
        requeued = await outbox_store.get_message(tx.conn, message_id)
        assert requeued is not None
    return requeued


async def recover(ctx: Context, actor: Principal, endpoint_id: str, since: datetime) -> int:
    """Send again every message of this endpoint that failed and was made since `since`."""
    async with transaction(ctx) as tx:
        await _enabled(tx.conn, endpoint_id)
        count = await outbox_store.requeue(
            tx.conn, tx.now, endpoint_id=endpoint_id, failed_since=since
        )
        tx.record(
            "webhook.redelivery",
            actor.actor(),
            {"endpoint_id": endpoint_id, "failed_since": since.isoformat(), "count": count},
        )
        tx.wake = True
    return count
