"""Summarize a py-spy raw (collapsed) profile of the server: where the event loop's thread goes.

    .venv-bench/bin/python bench/profile_summary.py bench/results/profile-create-sqlite-16.txt

Counts only the samples of the main thread (the event loop; SQLAlchemy's greenlets run on it
too), by the library of the innermost frame, then the Signoff functions that include the most.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

LIBRARIES = (
    ("sqlalchemy", "SQLAlchemy (building, compiling, executing, rows)"),
    ("aiosqlite", "hand-offs to threads (aiosqlite, to_thread)"),
    ("greenlet", "greenlet switches"),
    ("threading", "hand-offs to threads (aiosqlite, to_thread)"),
    ("queue", "hand-offs to threads (aiosqlite, to_thread)"),
    ("concurrent/futures", "hand-offs to threads (aiosqlite, to_thread)"),
    ("psycopg", "psycopg"),
    ("fastapi", "FastAPI + Starlette + pydantic"),
    ("starlette", "FastAPI + Starlette + pydantic"),
    ("pydantic", "FastAPI + Starlette + pydantic"),
    ("uvicorn", "uvicorn + httptools"),
    ("signoff", "Signoff's own code"),
    ("json", "json"),
    ("asyncio", "event loop (uvloop, C)"),
    ("uvloop", "event loop (uvloop, C)"),
)


def library(frame: str) -> str:
    where = frame.rpartition("(")[2]
    for needle, name in LIBRARIES:
        if f"{needle}/" in where or where.startswith(needle):
            return name
    return "other (stdlib, C without a Python frame)"


def summarize(path: Path, top: int = 25) -> str:
    by_library: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not frames[0].endswith("MainThread"):
            continue
        n = int(count)
        total += n
        by_library[library(frames[-1]) if len(frames) > 1 else library("")] += n
        for frame in set(frames[1:]):
            if "signoff/" in frame and "cli.py" not in frame:
                inclusive[frame.split(" (")[0] + " (" + frame.rpartition("signoff/")[2]] += n
    lines = [f"{total} samples of the main thread", "", "self time by library:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in by_library.most_common()]
    lines += ["", "Signoff functions, inclusive:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1])))
