"""A lean HTTP/1.1 load generator: keep-alive connections on asyncio streams, closed loop.

Why not httpx: on a 2-core machine the client shares the CPU with the server, and httpx spends
several times more CPU per request than the servers under test, so it would measure itself. This
client writes the request bytes by hand and reads `Content-Length` bodies; uvicorn answers every
JSON route that way.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar


class HTTPError(Exception):
    def __init__(self, status: int, body: bytes, what: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {body[:300]!r}")
        self.status = status


class Conn:
    """One keep-alive connection; one request at a time."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, auth: bytes | None = None
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode() + (
            self.auth if auth is None else auth
        )
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        message = head + b"\r\n" + (body or b"")
        reused = self._writer is not None
        try:
            return await self._exchange(message)
        except asyncio.IncompleteReadError as exc:
            if not (reused and exc.partial == b""):
                raise
        # The server closed an idle keep-alive connection (uvicorn does after 5 s) before it
        # read this request: send it again on a fresh connection, as HTTP clients do.
        return await self._exchange(message)

    async def _exchange(self, message: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            await self._open()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(message)
            raw = await self._reader.readuntil(b"\r\n\r\n")
            status = int(raw[9:12])
            length = 0
            for line in raw.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            data = await self._reader.readexactly(length) if length else b""
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await self.close()  # the next request opens a fresh connection
            raise
        return status, data

    async def json(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        expect: int = 200,
        auth: bytes | None = None,
    ) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = await self.request(method, path, body, auth)
        if status != expect:
            raise HTTPError(status, data, f"{method} {path}")
        return json.loads(data) if data else None


@dataclass
class People:
    """A reviewer (user and key) and a requester key, made through the API as a user would."""

    tag: str
    reviewer_id: str
    reviewer_key: str
    requester_key: str


async def make_people(conn: Conn) -> People:
    tag = os.urandom(3).hex()
    user = await conn.json(
        "POST",
        "/v1/users",
        {"email": f"reviewer-{tag}@example.com", "name": "Reviewer", "role": "reviewer"},
        expect=201,
    )
    reviewer = await conn.json(
        "POST",
        "/v1/api-keys",
        {"name": "bench reviewer", "role": "reviewer", "user_id": user["id"]},
        expect=201,
    )
    requester = await conn.json(
        "POST", "/v1/api-keys", {"name": "bench agent", "role": "requester"}, expect=201
    )
    return People(tag, user["id"], reviewer["key"], requester["key"])


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Run:
    """What a closed-loop run measured inside its measurement window."""

    clients: int
    seconds: float
    ops: int
    errors: int
    latencies: list[float] = field(repr=False, default_factory=list)
    client_cpu: float = 0.0  # cores used by this process while it ran
    extra: dict[str, list[float]] = field(repr=False, default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds

    def p(self, q: float, name: str | None = None) -> float:
        values = sorted(self.extra[name] if name else self.latencies)
        return percentile(values, q) * 1000  # ms

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "ops": self.ops,
            "errors": self.errors,
            "per_second": round(self.rate, 1),
            "p50_ms": round(self.p(50), 2),
            "p99_ms": round(self.p(99), 2),
            "client_cpu_cores": round(self.client_cpu, 2),
        }
        for name in self.extra:
            out[f"{name}_p50_ms"] = round(self.p(50, name), 2)
            out[f"{name}_p99_ms"] = round(self.p(99, name), 2)
        return out


C = TypeVar("C")


async def closed_loop(
    clients: Sequence[C],
    op: Callable[[C, dict[str, list[float]]], Awaitable[None]],
    *,
    warmup: float,
    seconds: float,
) -> Run:
    """Every client runs `op` back to back until the end of the window [warmup, warmup + seconds].

    Throughput counts the ops that complete inside the window (steady state, whatever their
    start); their latencies are the ones reported. `op` may add named timings to the dict it is
    given. Errors are counted and the client goes on."""
    start = time.perf_counter()
    begin, end = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    extra: dict[str, list[float]] = {}
    errors = 0
    done = 0

    async def client(state: C) -> None:
        nonlocal errors, done
        while (t0 := time.perf_counter()) < end:
            timings: dict[str, list[float]] = {}
            try:
                await op(state, timings)
            except (HTTPError, OSError, asyncio.IncompleteReadError):
                errors += 1
                continue
            t1 = time.perf_counter()
            if begin <= t1 <= end:
                latencies.append(t1 - t0)
                done += 1
                for name, values in timings.items():
                    extra.setdefault(name, []).extend(values)

    cpu0 = time.process_time()
    await asyncio.gather(*(client(c) for c in clients))
    cpu = time.process_time() - cpu0
    return Run(len(clients), seconds, done, errors, latencies, cpu / (end - start), extra)
