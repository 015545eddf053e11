"""Helpers shared by the query modules: times come back as aware UTC on both databases."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (it stores no zone); PostgreSQL answers in the session's.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
