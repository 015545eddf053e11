"""Use cases of the dispatcher (claim, settle) and of the delivery log (read, redeliver)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..domain.ids import new_id
from ..domain.model import SYSTEM, Attempt, Message, MessageStatus
from ..domain.retries import DEFAULT_SCHEDULE, next_attempt
from ..store import outbox as store
from ..store import webhooks as webhook_store
from ..webhook_signing import new_secret
from .context import Context, Tx, transaction

CALLBACK_SECRET = "callback_signing_secret"
EXCERPT_CHARS = 1000


@dataclass(frozen=True)
class Policy:
    """How hard the dispatcher tries; settings shorten it in tests."""

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    disable_after: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class Outgoing:
    """A claimed message with what it takes to send it: its signing secrets and credentials."""

    message: Message
    secrets: list[str]
    auth: dict[str, Any] | None


async def callback_secret(ctx: Context) -> str:
    """The secret that signs every request callback (made on first use)."""
    async with ctx.db.write() as conn:
        return await webhook_store.server_secret(conn, CALLBACK_SECRET, new_secret(), ctx.clock())


async def claim(ctx: Context, limit: int, lease: timedelta) -> list[Outgoing]:
    now = ctx.clock()
    async with ctx.db.write() as conn:
        claimed = await store.claim_due(
            conn, now, now + lease, limit, skip_locked=not ctx.db.is_sqlite
        )
        if not claimed:
            return []
        shared = None
        # Looked up once per endpoint, not per message: a claim is most of a send's cost.
        endpoints: dict[str, tuple[list[str], str | None]] = {}
        out = []
        for message in claimed:
            if message.is_notification:
                # A mail or a chat post: nothing to sign, and never a callback's credentials.
                out.append(Outgoing(message, [], None))
                continue
            if message.endpoint_id:
                if message.endpoint_id not in endpoints:
                    endpoints[message.endpoint_id] = (
                        await webhook_store.signing_secrets(conn, message.endpoint_id, now),
                        await webhook_store.current_url(conn, message.endpoint_id),
                    )
                secrets, url = endpoints[message.endpoint_id]
                auth = None
                # Retries and redeliveries go where the endpoint points now, not where it
                # pointed when the event happened: an admin who fixes a URL fixes them too.
                if url is not None and url != message.url:
                    message = replace(message, url=url)
            else:
                if shared is None:
                    shared = await webhook_store.server_secret(
                        conn, CALLBACK_SECRET, new_secret(), now
                    )
                secrets = [shared]
                auth = await store.callback_auth(conn, message.request_id or "")
            out.append(Outgoing(message, secrets, auth))
    return out


async def settle(ctx: Context, policy: Policy, results: list[tuple[Message, Attempt]]) -> None:
    """Record attempts and decide each message's fate, in one transaction for the batch.

    Endpoints are marked answering or failing once per batch, in id order: one write per
    endpoint instead of one per message, and two dispatchers settling at once lock endpoint
    rows in the same order (no deadlock).
    """
    async with transaction(ctx) as tx:
        # Endpoints before messages, as every other writer of both does (lock_endpoints).
        await webhook_store.lock_endpoints(
            tx.conn, {message.endpoint_id for message, _ in results if message.endpoint_id}
        )
        await store.record_attempts(
            tx.conn,
            [
                {
                    "id": new_id("att", tx.now),
                    "message_id": message.id,
                    "attempted_at": attempt.attempted_at,
                    "status_code": attempt.status_code,
                    "latency_ms": attempt.latency_ms,
                    "response_excerpt": (attempt.response_excerpt or "")[:EXCERPT_CHARS] or None,
                    "error": attempt.error,
                }
                for message, attempt in results
            ],
        )
        answered: set[str] = set()
        failing: set[str] = set()
        gone: set[str] = set()
        for message, attempt in results:
            if message.endpoint_id:
                (answered if attempt.succeeded else failing).add(message.endpoint_id)
                if attempt.status_code == 410:
                    gone.add(message.endpoint_id)
        await store.settle_many(
            tx.conn, [(m.id, _outcome(policy, tx.now, m, a)) for m, a in results]
        )
        for endpoint_id in sorted(gone):
            await disable_endpoint(tx, endpoint_id, "the receiver answered 410 Gone")
        for endpoint_id in sorted(answered - gone):
            await webhook_store.clear_failing(tx.conn, endpoint_id)
        for endpoint_id in sorted(failing - answered - gone):
            await _note_failure(tx, policy, endpoint_id)


def _outcome(policy: Policy, now: datetime, message: Message, attempt: Attempt) -> dict[str, Any]:
    """A message's new values after `attempt`: delivered, failed, or due again later."""
    tries = message.attempts + 1
    common = {
        "attempts": tries,
        "last_attempt_at": attempt.attempted_at,
        "last_status_code": attempt.status_code,
        "last_error": attempt.error,
    }
    if attempt.succeeded:
        return {**common, "status": MessageStatus.delivered.value, "delivered_at": now}
    gone = attempt.status_code == 410 and message.endpoint_id is not None
    retry_at = None if gone else next_attempt(tries, now, policy.schedule)
    if retry_at is None:
        return {**common, "status": MessageStatus.failed.value}
    return {**common, "next_attempt_at": retry_at}


async def _note_failure(tx: Tx, policy: Policy, endpoint_id: str) -> None:
    endpoint = await webhook_store.get_endpoint(tx.conn, endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return
    if endpoint.failing_since is None:
        await webhook_store.update_endpoint(tx.conn, endpoint_id, {"failing_since": tx.now})
    elif tx.now - endpoint.failing_since >= policy.disable_after:
        hours = policy.disable_after.total_seconds() / 3600
        await disable_endpoint(tx, endpoint_id, f"every delivery failed for {hours:g} hours")


async def disable_endpoint(tx: Tx, endpoint_id: str, reason: str) -> None:
    await webhook_store.update_endpoint(
        tx.conn, endpoint_id, {"enabled": False, "disabled_reason": reason, "updated_at": tx.now}
    )
    failed = await store.fail_pending_of_endpoint(
        tx.conn, endpoint_id, f"endpoint disabled: {reason}"
    )
    tx.record(
        "webhook.disabled",
        SYSTEM.actor(),
        {"id": endpoint_id, "reason": reason, "failed_messages": failed},
    )


async def release(ctx: Context, message_ids: list[str], at: datetime) -> None:
    """Give claimed messages back unsent (shutdown), due again at `at`."""
    async with ctx.db.write() as conn:
        for message_id in message_ids:
            await store.settle(conn, message_id, {"next_attempt_at": at})
