"""Notifications to people: a mail or a chat post per person an event names, written to the
outbox in the transaction that writes the event (at least once, like webhooks).

An event asks for them with `tx.record(..., notify=[user ids])`; each person is told the way
their `notify` setting says: email (the default, when SMTP is set up), a chat incoming-webhook
URL (Slack-compatible body), or not at all. The dispatcher sends them (delivery/notify.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.canonical import dumps
from ..domain.ids import new_id
from ..domain.model import MessageStatus, NewEvent, User
from ..store import outbox as outbox_store
from ..store import users as user_store
from ..store.db import Conn
from ..store.tables import requests

EMAIL = "email"
CHAT = "chat"
NONE = "none"
CHANNELS = (EMAIL, CHAT, NONE)

# What each kind of notice says: the subject line, and the sentence that opens the message.
_WORDING: dict[str, tuple[str, str]] = {
    "request.assigned": ("Assigned to you: {title}", "A request was assigned to you."),
    "request.reminder": (
        "Reminder: {title}",
        "A request is still waiting for your decision{deadline}.",
    ),
    "request.pickup_overdue": (
        "Waiting for a reviewer: {title}",
        "Nobody has picked up this request yet{deadline}.",
    ),
    "request.escalated": (
        "Escalated to you: {title}",
        "A request was escalated (level {level}) and needs a decision{deadline}.",
    ),
}


def review_link(public_url: str, request_id: str, user: User) -> str:
    """The page where `user` reviews the request.

    Seam for signed per-reviewer review links (service/review_links.py, from the `admin`
    branch): when it lands, return a signed link here for a person without an account or a
    password, so that the mail opens the review without a log-in.
    """
    return f"{public_url.rstrip('/')}/requests/{request_id}"


def _channel(user: User, email: bool) -> tuple[str, str] | None:
    """How to reach `user`: (channel, url), or None when they are not to be told."""
    setting = user.notify or {"channel": EMAIL}
    channel = setting.get("channel", EMAIL)
    if channel == CHAT and setting.get("url"):
        return CHAT, str(setting["url"])
    if channel == EMAIL and email:
        return EMAIL, f"mailto:{user.email}"
    return None


def render(event: NewEvent, title: str | None, link: str) -> tuple[str, str]:
    """The subject and plain text of a notice about `event`."""
    subject, opening = _WORDING.get(event.type, ("Signoff: {title}", "A request needs you."))
    data = event.data
    deadline = f" (deadline {data['deadline_at']})" if data.get("deadline_at") else ""
    name = title or data.get("request_id") or "a request"
    fields = {"title": name, "deadline": deadline, "level": data.get("level", "")}
    text = "\n\n".join(
        [opening.format(**fields), f"Request: {name}", f"Review it here: {link}", "— Signoff"]
    )
    return subject.format(**fields), text + "\n"


def chat_body(subject: str, text: str, link: str) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body: `text` for every client, `blocks` for rich ones."""
    first = text.split("\n\n", 1)[0]
    return {
        "text": f"{subject}\n{link}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{subject}*\n{first}"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Review"},
                        "url": link,
                    }
                ],
            },
        ],
    }


async def queue_notifications(
    conn: Conn,
    now: datetime,
    written: list[tuple[str, NewEvent]],
    *,
    public_url: str,
    email: bool,
) -> int:
    """Write one outbox message per (event, person to tell); answers how many."""
    wanted = [(eid, e) for eid, e in written if e.extra.get("notify")]
    if not wanted:
        return 0
    user_ids = sorted({u for _, e in wanted for u in e.extra["notify"]})
    people = {u.id: u for u in await user_store.get_users(conn, user_ids) if u.active}
    request_ids = {e.request_id for _, e in wanted if e.request_id}
    titles: dict[str, str | None] = {}
    if request_ids:
        rows = await conn.execute(
            sa.select(requests.c.id, requests.c.title).where(requests.c.id.in_(request_ids))
        )
        titles = {r.id: r.title for r in rows}
    rows_out: list[dict[str, Any]] = []
    for event_id, event in wanted:
        request_id = event.request_id or ""
        for user_id in event.extra["notify"]:
            user = people.get(user_id)
            how = _channel(user, email) if user else None
            if user is None or how is None:
                continue
            channel, url = how
            link = review_link(public_url, request_id, user)
            subject, text = render(event, titles.get(request_id), link)
            if channel == EMAIL:
                payload = {"to": user.email, "subject": subject, "text": text, "link": link}
            else:
                payload = chat_body(subject, text, link)
            rows_out.append(
                {
                    "id": new_id("msg", now),
                    "event_id": event_id,
                    "event_type": event.type,
                    "url": url,
                    "payload": dumps(payload),
                    "status": MessageStatus.pending.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "endpoint_id": None,
                    "request_id": event.request_id,
                    "channel": channel,
                }
            )
    await outbox_store.insert_messages(conn, rows_out)
    return len(rows_out)
