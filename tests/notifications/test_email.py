"""Email notifications through a real SMTP server; the link in the mail opens the request."""

from __future__ import annotations

import re

import sqlalchemy as sa

from signoff.service.context import Context
from signoff.store.tables import delivery_attempts, messages
from tests.conftest import Api
from tests.scheduler.conftest import ask, new_loop
from tests.webhooks.support import Receiver, until

from .conftest import SmtpServer


async def _notices(ctx: Context) -> list[sa.Row[tuple[object, ...]]]:
    async with ctx.db.read() as conn:
        query = sa.select(messages).where(messages.c.channel.is_not(None))
        return list(await conn.execute(query.order_by(messages.c.id)))


async def test_a_reminder_mails_each_reviewer_a_link_that_opens_the_request(
    api: Api, smtp: SmtpServer
) -> None:
    smtp.start()
    ann, carl = await api.add_reviewer("ann"), await api.add_reviewer("carl")
    r = await api.as_("admin", "PATCH", f"/v1/users/{carl}", json={"notify": {"channel": "none"}})
    assert (r.status_code, r.json()["notify"]) == (200, {"channel": "none"}), r.text
    loop = await new_loop(api, reviewers=[ann, carl], default_timeout_seconds=2, reminders=[0.5])
    request = await ask(api, loop["id"], title="Refund 1182")

    [mail] = await smtp.inbox.wait_for(1)
    assert mail.recipients == ["ann@example.com"]  # carl asked for none
    assert mail.sender == "signoff@example.com"
    assert mail.message["To"] == "ann@example.com"
    assert mail.message["From"] == "Signoff <signoff@example.com>"
    assert mail.message["Subject"] == "Reminder: Refund 1182"
    links = re.findall(r"https?://\S+", mail.body)
    assert links == [f"http://testserver/requests/{request['id']}"]
    # The link opens the right request: its id, read with ann's own key.
    opened = await api.as_("ann", "GET", "/v1" + links[0].removeprefix("http://testserver"))
    assert opened.status_code == 200, opened.text
    assert (opened.json()["id"], opened.json()["title"]) == (request["id"], "Refund 1182")

    async def delivered() -> bool:
        rows = await _notices(api.ctx)
        return bool(rows) and all(row.status == "delivered" for row in rows)

    await until(delivered, "the notice marked delivered")
    [row] = await _notices(api.ctx)
    assert (row.channel, row.url, row.event_type) == (
        "email",
        "mailto:ann@example.com",
        "request.reminder",
    )


async def test_a_mail_server_that_is_down_delays_mail_but_loses_none_and_blocks_no_webhook(
    api: Api, smtp: SmtpServer, receiver: Receiver
) -> None:
    ann = await api.add_reviewer("ann")
    r = await api.as_(
        "admin",
        "POST",
        "/v1/webhooks",
        json={"url": receiver.url(), "events": ["request.reminder", "request.timed_out"]},
    )
    assert r.status_code == 201, r.text
    loop = await new_loop(api, reviewers=[ann], default_timeout_seconds=2, reminders=[0.5])
    request = await ask(api, loop["id"], title="Wire transfer")

    # The mail server is down: the webhooks still go out, reminder and timeout alike.
    hooks = await receiver.wait_for(2)
    assert [h.type for h in hooks] == ["request.reminder", "request.timed_out"]
    assert all(h.json["data"]["request_id"] == request["id"] for h in hooks)

    async def tried_and_failed() -> bool:
        rows = await _notices(api.ctx)
        return bool(rows) and rows[0].attempts >= 2 and rows[0].status == "pending"

    await until(tried_and_failed, "mail tried twice and kept for later")
    assert smtp.inbox.mail == []

    smtp.start()  # back up: the mail that waited goes out
    [mail] = await smtp.inbox.wait_for(1)
    assert (mail.recipients, mail.message["Subject"]) == (
        ["ann@example.com"],
        "Reminder: Wire transfer",
    )
    assert request["id"] in mail.body

    async def delivered() -> bool:
        rows = await _notices(api.ctx)
        return rows[0].status == "delivered"

    await until(delivered, "the mail marked delivered")
    [row] = await _notices(api.ctx)
    async with api.ctx.db.read() as conn:
        attempts = list(
            await conn.execute(
                sa.select(delivery_attempts)
                .where(delivery_attempts.c.message_id == row.id)
                .order_by(delivery_attempts.c.attempted_at)
            )
        )
    assert len(attempts) >= 3
    assert all(a.error for a in attempts[:-1]) and attempts[-1].status_code == 250
    assert len(smtp.inbox.mail) == 1
