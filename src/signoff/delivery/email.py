"""One mail: the outbox message's notice sent through the configured SMTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from ..domain.model import Attempt, Message


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls, tls (implicit, port 465) or none
    username: str | None = None
    password: str | None = None
    sender: str = "Signoff <signoff@localhost>"
    timeout: float = 10.0


def compose(config: SmtpConfig, message: Message) -> EmailMessage:
    notice = json.loads(message.payload)
    mail = EmailMessage()
    mail["From"] = config.sender
    mail["To"] = notice["to"]
    mail["Subject"] = notice["subject"]
    # The same Message-ID on every retry, so a server that took a mail twice shows it once.
    domain = config.sender.rsplit("@", 1)[-1].rstrip(">") or "signoff"
    mail["Message-ID"] = make_msgid(idstring=message.id, domain=domain)
    mail["X-Signoff-Event"] = message.event_type
    mail.set_content(notice["text"])
    return mail


async def send_email(
    config: SmtpConfig | None, message: Message, *, now: Callable[[], datetime]
) -> Attempt:
    started = now()
    clock = time.perf_counter()

    def attempt(**kw: object) -> Attempt:
        return Attempt(started, (time.perf_counter() - clock) * 1000, **kw)  # type: ignore[arg-type]

    if config is None:
        return attempt(error="no SMTP server is configured (SIGNOFF_SMTP_HOST)")
    try:
        errors, reply = await aiosmtplib.send(
            compose(config, message),
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.security == "tls",
            start_tls=True if config.security == "starttls" else False,
            timeout=config.timeout,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return attempt(error=f"{type(exc).__name__}: {exc}")
    if errors:  # the server refused the recipient
        return attempt(error=f"refused: {errors}")
    # SMTP said 250: recorded as 250, so the delivery log reads like the webhooks'.
    return attempt(status_code=250, response_excerpt=reply[:1000])
