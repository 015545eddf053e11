"""Settings, read once from the environment (prefix `SIGNOFF_`) by app.py and cli.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.retries import DEFAULT_SCHEDULE


def default_data_dir() -> Path:
    """Per user: $XDG_DATA_HOME/signoff, else ~/.local/share/signoff."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "signoff"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNOFF_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the embedded SQLite database and other local files.",
    )
    database_url: str | None = Field(
        default=None,
        description="`sqlite:///path` or `postgresql://user@host/db`; default: SQLite in data_dir.",
    )
    public_url: str | None = Field(
        default=None,
        description="The URL people reach Signoff at, for review links; default: the bind address.",
    )
    max_body_bytes: int = Field(default=1024 * 1024, description="Largest request body accepted.")
    max_metadata_bytes: int = Field(default=16 * 1024, description="Largest `metadata`, as JSON.")
    max_batch: int = Field(default=1000, description="Most requests in one batch call.")
    max_wait_seconds: int = Field(default=300, description="Longest long-poll `wait`.")
    mcp_wait_seconds: float = Field(
        default=50,
        gt=0,
        description="Longest an MCP tool call waits for a decision before it answers `pending`; "
        "keep it under the tool-call timeout of MCP clients (often 60 s).",
    )
    db_pool_size: int = Field(default=10, description="Database connections per process.")
    claim_lease_seconds: int = Field(
        default=600,
        gt=0,
        description="How long a reviewer's claim on a request lasts unless renewed or released.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Allow outgoing URLs (webhooks, callbacks) to loopback and private ranges.",
    )

    webhook_timeout_seconds: float = Field(default=10.0, description="Longest wait for a receiver.")
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE),
        description="Seconds between a failed delivery and its next try, one per retry "
        "(JSON list). Spread by ±20 %; when spent, the message fails.",
    )
    webhook_disable_after_hours: float = Field(
        default=72, description="An endpoint whose every delivery fails this long is disabled."
    )
    webhook_concurrency: int = Field(default=64, description="Deliveries in flight per process.")
    sqlite_watch_seconds: float = Field(
        default=0.25,
        ge=0,
        description="On SQLite, how often a process looks for events other processes wrote "
        "(a CLI decision, a `signoff worker`) to wake its long-polls and event streams; "
        "0 turns this off.",
    )
    workers: bool = Field(
        default=True,
        description="Run the dispatcher (and sealer) inside `signoff serve`; false when "
        "separate `signoff worker` processes do it.",
    )

    scheduler_batch: int = Field(
        default=200,
        description="Most timers (timeouts, reminders, escalations) fired per transaction.",
    )
    scheduler_poll_seconds: float = Field(
        default=5.0,
        description="Longest the scheduler sleeps before looking for due timers again (it wakes "
        "sooner for timers due sooner, and when any process adds an earlier one).",
    )

    smtp_host: str | None = Field(
        default=None, description="SMTP server for email notifications; unset: no mail is sent."
    )
    smtp_port: int = Field(default=587, description="SMTP port (587 STARTTLS, 465 TLS, 25 none).")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="`starttls` (upgrade after connecting), `tls` (TLS from the start), `none`.",
    )
    smtp_username: str | None = Field(
        default=None, description="SMTP login, if the server needs one."
    )
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_sender: str = Field(
        default="Signoff <signoff@localhost>", description="The From: of notification mail."
    )
    smtp_timeout_seconds: float = Field(
        default=10.0, description="Longest wait for the SMTP server."
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'signoff.db'}"
