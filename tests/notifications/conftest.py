"""Notification tests send real mail to a real SMTP server (aiosmtpd on loopback, started by
the test) and real chat posts to a real HTTP receiver, on the real clock: a loop's reminder at
half of a 2 s deadline is the notice, one second after the request is made."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from signoff.config import Settings
from tests.webhooks.support import Receiver, closed_port

WAIT = 15.0


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.mail: list[Mail] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mail.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int = 1, timeout: float = WAIT) -> list[Mail]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.mail) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"waited {timeout} s for {count} mail, have {len(self.mail)}")
            await asyncio.sleep(0.05)
        return list(self.mail)


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`, started and stopped at will (an outage, then recovery)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A mail server on a free port, not started: a test starts it (or first shows it down)."""
    server = SmtpServer(closed_port())
    yield server
    server.stop()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        allow_private_urls=True,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_sender="Signoff <signoff@example.com>",
        smtp_timeout_seconds=2,
        webhook_retry_schedule=[0.3] * 50,
        webhook_timeout_seconds=2,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = await Receiver().start()
    yield found
    await found.close()


def any_of(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]
