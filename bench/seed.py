"""Bulk-load a million requests straight into the database, for the list benchmark.

Rows are copies of one template request that Signoff itself created over HTTP (so every stored
format is Signoff's own), with their own sortable ids spread over 30 days, loops, statuses,
decisions and priorities. The varying columns go into a scratch table first, then one
`INSERT … SELECT` joins them with the template: fast on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from signoff.domain.ids import new_id
from signoff.store.tables import requests

VARYING = (
    "id",
    "loop_id",
    "status",
    "decision",
    "priority",
    "created_at",
    "updated_at",
    "completed_at",
)
_SEED_TABLE = (
    "CREATE TEMP TABLE seed_rows (id {t}, loop_id {t}, status {t}, decision {t}, priority {t}, "
    "created_at {ts}, updated_at {ts}, completed_at {ts})"
)
CHUNK = 100_000


def _rows(count: int, loop_ids: list[str], seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """`count` rows, oldest first: 5 % pending, 3 % cancelled, 2 % timed out, the rest completed;
    priorities 80 % normal, 12 % high, 6 % low, 2 % urgent."""
    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(minutes=5)
    step = timedelta(days=30) / count
    at = now - timedelta(days=30)
    for i in range(count):
        at += step
        roll = rng.random()
        if roll < 0.05:
            status, decision = "pending", None
        elif roll < 0.08:
            status, decision = "cancelled", None
        elif roll < 0.10:
            status, decision = "timed_out", None
        else:
            status, decision = "completed", "approved" if roll < 0.85 else "rejected"
        roll = rng.random()
        priority = (
            "normal"
            if roll < 0.80
            else "high"
            if roll < 0.92
            else "low"
            if roll < 0.98
            else "urgent"
        )
        done = None if status == "pending" else at + timedelta(seconds=90)
        yield (
            new_id("req", at),
            loop_ids[i % len(loop_ids)],
            status,
            decision,
            priority,
            at,
            done or at,
            done,
        )


def _insert_select(template_id: str, placeholder: str) -> str:
    columns = [c.name for c in requests.c]
    picked = [f"s.{c}" if c in VARYING else f"t.{c}" for c in columns]
    return (
        f"INSERT INTO requests ({', '.join(columns)}) SELECT {', '.join(picked)} "
        f"FROM seed_rows s CROSS JOIN requests t WHERE t.id = {placeholder} ORDER BY s.id"
    )


def seed_sqlite(path: str, template_id: str, count: int, loop_ids: list[str]) -> list[str]:
    """Load `count` rows; answers every 100th id, for cursors."""
    to_text = sa.DateTime(timezone=True).dialect_impl(sqlite.dialect())
    stamp = to_text.bind_processor(sqlite.dialect())
    assert stamp is not None
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SEED_TABLE.format(t="TEXT", ts="TEXT"))
        rows = _rows(count, loop_ids)
        ids: list[str] = []
        conn.execute("BEGIN")
        while chunk := [r for _, r in zip(range(CHUNK), rows, strict=False)]:
            ids.extend(r[0] for r in chunk[::100])
            conn.executemany(
                "INSERT INTO seed_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*r[:5], stamp(r[5]), stamp(r[6]), r[7] and stamp(r[7])) for r in chunk],
            )
        conn.execute(_insert_select(template_id, "?"), (template_id,))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return ids


def seed_postgres(dsn: str, template_id: str, count: int, loop_ids: list[str]) -> list[str]:
    ids: list[str] = []
    with psycopg.connect(dsn) as conn:
        conn.execute(_SEED_TABLE.format(t="text", ts="timestamptz"))
        with conn.cursor().copy("COPY seed_rows FROM STDIN") as copy:
            for i, row in enumerate(_rows(count, loop_ids)):
                copy.write_row(row)
                if i % 100 == 0:
                    ids.append(row[0])
        conn.execute(_insert_select(template_id, "%(t)s"), {"t": template_id})
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE requests")
    return ids
