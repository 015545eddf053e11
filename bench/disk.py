"""The disk's own ceilings: small appends with fsync, and SQLite commits (WAL, synchronous=FULL).

A request that must survive a power cut costs at least one fsync when its transaction commits,
so these rates bound how many single-request commits per second any store on this disk can do
(unless commits are grouped, as PostgreSQL does under concurrency).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any


def fsync_rate(folder: Path, seconds: float) -> dict[str, Any]:
    path = folder / "fsync-probe.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        latencies = []
        record = b"x" * 128
        end = time.perf_counter() + seconds
        while (t0 := time.perf_counter()) < end:
            os.write(fd, record)
            os.fsync(fd)
            latencies.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return _rate(latencies)


def sqlite_commit_rate(folder: Path, seconds: float) -> dict[str, Any]:
    path = folder / "commit-probe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        latencies = []
        end = time.perf_counter() + seconds
        while (t0 := time.perf_counter()) < end:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (body) VALUES (?)", ("x" * 128,))
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t0)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return _rate(latencies)


def _rate(latencies: list[float]) -> dict[str, Any]:
    latencies.sort()
    return {
        "per_second": round(len(latencies) / sum(latencies), 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
        "count": len(latencies),
    }
