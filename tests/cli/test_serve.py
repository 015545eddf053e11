"""`signoff serve` from nothing: it makes the database, prints its URL and, once, an admin key."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import sqlalchemy as sa

from signoff.store.db import Database
from tests.integration.server import serve


def _get(url: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(url, headers=headers, timeout=10, trust_env=False)


def test_first_start_makes_the_database_and_prints_one_admin_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    data_dir = Path(env["SIGNOFF_DATA_DIR"])
    assert not data_dir.exists()
    with serve(env, tmp_path / "logs") as first:
        assert f"Signoff is serving at {first.url}\n" in first.stdout
        key = first.first_key()
        assert key and first.stdout.count("sk_") == 1, first.stdout
        assert key not in first.stderr
        loops = _get(f"{first.url}/v1/loops", key)
        assert loops.status_code == 200 and loops.json() == {"data": [], "next_cursor": None}
        assert _get(f"{first.url}/v1/loops").status_code == 401
        assert _get(f"{first.url}/healthz").status_code == 200
        ready = _get(f"{first.url}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text
    assert data_dir.is_dir()
    if "SIGNOFF_DATABASE_URL" not in env:
        assert (data_dir / "signoff.db").is_file()
        assert f"Database: SQLite at {data_dir / 'signoff.db'}" in first.stdout
        _check_sqlite_durability(data_dir / "signoff.db")

    with serve(env, tmp_path / "logs") as again:
        assert again.first_key() is None and "sk_" not in again.stdout, again.stdout
        assert _get(f"{again.url}/v1/loops", key).status_code == 200


def _check_sqlite_durability(path: Path) -> None:
    # The journal mode is kept in the file itself.
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
    # synchronous is per connection: ask the service's own writer and readers.
    assert asyncio.run(_pragmas(f"sqlite:///{path}")) == {"write": (2, 1), "read": (2, 1)}


async def _pragmas(url: str) -> dict[str, tuple[int, int]]:
    """synchronous (2 = FULL) and foreign_keys, through the writer and a reader."""
    db = Database(url)
    found = {}
    try:
        for name, begin in (("write", db.write), ("read", db.read)):
            async with begin() as conn:
                sync = (await conn.execute(sa.text("PRAGMA synchronous"))).scalar_one()
                keys = (await conn.execute(sa.text("PRAGMA foreign_keys"))).scalar_one()
                found[name] = (sync, keys)
    finally:
        await db.dispose()
    return found
