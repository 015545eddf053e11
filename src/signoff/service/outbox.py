"""Fan-out: the messages an event makes, written in the transaction that writes the event."""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

import sqlalchemy as sa

from ..domain.canonical import dumps
from ..domain.ids import new_id
from ..domain.model import Callback, MessageStatus, NewEvent
from ..store import outbox as store
from ..store import webhooks as webhook_store
from ..store.db import Conn
from ..store.tables import requests
from .views import rfc3339

# Fields every request event's webhook carries, so a receiver can route on any of them.
_REQUEST_FIELDS: dict[str, Any] = {
    "request_id": None,
    "loop_id": None,
    "status": None,
    "decision": None,
    "feedback": None,
    "content": None,
    "edited": False,
    "response_data": None,
    "metadata": {},
    "decided_by": None,
}


def webhook_body(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    if event_type.startswith("request."):
        data = {**_REQUEST_FIELDS, **data}
    return dumps({"type": event_type, "timestamp": rfc3339(occurred_at), "data": data})


async def _callbacks(conn: Conn, written: list[tuple[str, NewEvent]]) -> dict[str, Callback]:
    """The callbacks of the requests these events are about (a query only for the unknown)."""
    found = {e.request_id: e.callback for _, e in written if e.request_id and e.callback_known}
    unknown = {e.request_id for _, e in written if e.request_id} - found.keys()
    if unknown:
        rows = await conn.execute(
            sa.select(requests.c.id, requests.c.callback).where(requests.c.id.in_(unknown))
        )
        for r in rows:
            cb = r.callback
            found[r.id] = Callback(cb["url"], tuple(cb.get("events") or ()) or None) if cb else None
    return {k: v for k, v in found.items() if k and v is not None}


async def fan_out(conn: Conn, now: datetime, written: list[tuple[str, NewEvent]]) -> int:
    """Write one message per (event, matching endpoint or callback); answers how many."""
    if not written:
        return 0
    endpoints = await webhook_store.enabled_endpoints(conn)
    callbacks = await _callbacks(conn, written)
    rows: list[dict[str, Any]] = []

    def add(event_id: str, event: NewEvent, url: str, endpoint_id: str | None) -> None:
        rows.append(
            {
                "id": new_id("msg", now),
                "event_id": event_id,
                "event_type": event.type,
                "url": url,
                "payload": webhook_body(event.type, now, event.data),
                "status": MessageStatus.pending.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "endpoint_id": endpoint_id,  # None: the request's own callback
                "request_id": event.request_id,
            }
        )

    for event_id, event in written:
        only = event.extra.get("endpoint_id")
        for endpoint in endpoints:
            if (only is None and endpoint.wants(event.type, event.loop_id)) or only == endpoint.id:
                add(event_id, event, endpoint.url, endpoint.id)
        callback = callbacks.get(event.request_id or "")
        if callback and event.type.startswith("request."):
            wanted = callback.events
            # The same patterns as an endpoint's `events` (`request.*`), not only exact names.
            if not wanted or any(fnmatchcase(event.type, pattern) for pattern in wanted):
                add(event_id, event, callback.url, None)
    await store.insert_messages(conn, rows)
    return len(rows)
