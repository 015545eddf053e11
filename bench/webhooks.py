"""Webhook benchmarks: decision -> receiver latency at 100 decisions/s, and deliveries per second.

    .venv-bench/bin/python bench/webhooks.py                 # SQLite: about 2 minutes
    .venv-bench/bin/python bench/webhooks.py --quick         # a sanity run: about 1 minute
    .venv-bench/bin/python bench/webhooks.py --postgres-url postgresql://postgres@127.0.0.1/test
                                                             # SQLite, then PostgreSQL: about 4

Each phase first waits (up to 20 s) for the machine to be idle; the JSON keeps the load seen.

`signoff serve` and `signoff worker` run in their own processes (servers.py); this process is
both the load generator and the webhook receiver, so one monotonic clock times both ends. The
baseline client (plain httpx) runs in a process of its own, as the worker does. See
bench/README.md, "Webhooks", for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from asyncio.subprocess import PIPE
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httptools
import psycopg
import uvloop

import profile_summary
import servers
from loadgen import Conn, HTTPError, make_people, percentile

DRAFT = {
    "title": "Refund for order 4411",
    "content": "Send a refund of $120.00 to jane@example.com for order 4411? "
    "The parcel arrived damaged; the customer sent a photo.",
    "metadata": {"ticket": "T-4411", "customer": "jane@example.com"},
}
APPROVE = json.dumps({"decision": "approve"}).encode()
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
BATCH = 1000  # requests per batch call (the server's default limit)


@dataclass(frozen=True)
class Plan:
    rate: float  # decisions per second, open loop, for the latency figure
    light_rate: float  # the same at a rate the server takes easily: the webhook path alone
    latency_seconds: float
    warmup: int  # first decisions left out of the latency figure
    steady_seconds: float
    steady_clients: int
    drain: int  # messages queued, then drained by `signoff worker`
    concurrency: int  # deliveries in flight (Signoff's default), and the baseline's senders
    baseline_seconds: float  # the longest a baseline may run


FULL = Plan(100.0, 30.0, 20.0, 100, 10.0, 8, 10_000, 64, 8.0)
QUICK = Plan(100.0, 30.0, 5.0, 50, 4.0, 8, 3_000, 64, 3.0)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the receiver -----------------------------------------------------------------------------


@dataclass
class Arrival:
    at: float  # time.perf_counter() when the whole request had been read
    webhook_id: str
    type: str
    request_id: str | None


@dataclass
class Receiver:
    """A fast webhook receiver on loopback (asyncio + httptools): answers 200 "ok" to every
    POST and records when each arrived. Keep-alive, one request at a time per connection."""

    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    sample: tuple[dict[str, str], bytes] | None = None
    open: set[Any] = field(default_factory=set)  # transports of open connections
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Handler(self), servers.HOST, 0, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for transport in list(self.open):
                transport.abort()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://{servers.HOST}:{self.port}/hooks"

    def record(self, at: float, headers: dict[str, str], body: bytes) -> None:
        webhook_id = headers.get("webhook-id", "")
        if webhook_id in self.seen:
            self.duplicates += 1
            return
        self.seen.add(webhook_id)
        try:
            parsed = json.loads(body)
            kind, request_id = parsed["type"], parsed["data"].get("request_id")
        except (ValueError, KeyError, AttributeError):
            kind, request_id = "?", None
        self.arrivals.append(Arrival(at, webhook_id, kind, request_id))
        if self.sample is None and kind == "request.created":
            self.sample = (headers, body)

    def since(self, index: int, kind: str | None = None) -> list[Arrival]:
        return [a for a in self.arrivals[index:] if kind is None or a.type == kind]


class _Handler(asyncio.Protocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.receiver.open.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.receiver.open.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self) -> None:
        self.headers, self.body = {}, []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.receiver.record(time.perf_counter(), self.headers, b"".join(self.body))
        self.transport.write(OK)


# --- Signoff: processes, setup, database ------------------------------------------------------


class Worker(servers.Server):
    """`signoff worker` in its own process (no port: ready when it says it runs, which
    `wait_ready` waits for)."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.port = 0
        self.log = log_path
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        with log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(servers.BENCH / "serve.py"), "--", "worker"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**clean, **env},
                cwd=servers.BENCH.parent,
            )
        self.started = time.perf_counter()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            if b"worker running" in self.log.read_bytes():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"worker did not start: {self.log.read_text()[-3000:]}")


@dataclass
class Target:
    """One database and how Signoff's processes reach it."""

    name: str  # "sqlite" or "postgresql"
    data_dir: Path
    database_url: str | None = None
    admin: str = ""  # the first admin key, printed by the first `serve` only

    def admin_key(self, server: servers.Server) -> str:
        self.admin = self.admin or server.first_key()
        return self.admin

    def env(self, *, workers: bool) -> dict[str, str]:
        env = {
            "SIGNOFF_DATA_DIR": str(self.data_dir),
            "SIGNOFF_ALLOW_PRIVATE_URLS": "true",
            "SIGNOFF_WORKERS": "true" if workers else "false",
        }
        if self.database_url:
            env["SIGNOFF_DATABASE_URL"] = self.database_url
        return env

    def serve(self, *, workers: bool) -> servers.Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / f"serve-{int(time.time() * 1000)}.log"
        args = [sys.executable, str(servers.BENCH / "serve.py"), "--", "serve"]
        return servers.Server(args, log_path, self.env(workers=workers))

    def worker(self) -> Worker:
        return Worker(self.data_dir / f"worker-{time.time_ns()}.log", self.env(workers=True))

    def pending(self) -> int:
        """Messages not yet settled as delivered or failed (read straight from the database)."""
        query = "SELECT count(*) FROM messages WHERE status = 'pending'"
        if self.database_url is None:
            with closing(sqlite3.connect(self.data_dir / "signoff.db", timeout=30)) as db:
                return int(db.execute(query).fetchone()[0])
        with psycopg.connect(self.database_url) as pg:
            row = pg.execute(query).fetchone()
            return int(row[0]) if row else -1


@dataclass
class App:
    port: int
    admin: str
    requester: str
    reviewer: str
    loop_id: str


async def setup(server: servers.Server, admin: str) -> App:
    """A reviewer (user and key), a requester key, and a loop the reviewer decides alone."""
    conn = Conn(servers.HOST, server.port, admin)
    people = await make_people(conn)
    body = {"name": f"webhooks {people.tag}", "reviewers": [people.reviewer_id]}
    loop = await conn.json("POST", "/v1/loops", body, expect=201)
    await conn.close()
    return App(server.port, admin, people.requester_key, people.reviewer_key, loop["id"])


async def subscribe(app: App, url: str, events: list[str]) -> str:
    conn = Conn(servers.HOST, app.port, app.admin)
    body = {"url": url, "events": events, "description": "bench receiver"}
    created = await conn.json("POST", "/v1/webhooks", body, expect=201)
    await conn.close()
    return str(created["id"])


async def unsubscribe(app: App, endpoint_id: str) -> None:
    conn = Conn(servers.HOST, app.port, app.admin)
    await conn.json("DELETE", f"/v1/webhooks/{endpoint_id}", expect=204)
    await conn.close()


async def create_pending(app: App, count: int) -> list[str]:
    """`count` pending requests, made by batch calls of up to 1,000 (one transaction each)."""
    conn = Conn(servers.HOST, app.port, app.requester)
    ids: list[str] = []
    path = f"/v1/loops/{app.loop_id}/requests/batch"
    while len(ids) < count:
        items = [DRAFT] * min(BATCH, count - len(ids))
        page = await conn.json("POST", path, {"items": items}, expect=201)
        ids += [r["id"] for r in page["data"]]
    await conn.close()
    return ids


async def decide(conn: Conn, request_id: str) -> None:
    status, data = await conn.request("POST", f"/v1/requests/{request_id}/decisions", APPROVE)
    if status != 201:
        raise HTTPError(status, data, "decide")


# --- measuring CPU ----------------------------------------------------------------------------


@dataclass
class Cpu:
    """CPU used while a block ran, in cores: by given processes, this one, and all others."""

    procs: dict[str, servers.Server]
    cores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @contextmanager
    def measure(self) -> Iterator[None]:
        before = {name: p.cpu_seconds() for name, p in self.procs.items()}
        own0, (busy0, total0), t0 = time.process_time(), servers.machine_busy(), time.perf_counter()
        yield
        wall = self.seconds = time.perf_counter() - t0
        busy1, total1 = servers.machine_busy()
        for name, p in self.procs.items():
            with suppress(OSError, IndexError):
                self.cores[name] = round((p.cpu_seconds() - before[name]) / wall, 2)
        self.cores["bench_process"] = round((time.process_time() - own0) / wall, 2)
        machine = (busy1 - busy0) / (total1 - total0) * servers.CPUS
        self.cores["others"] = round(machine - sum(self.cores.values()), 2)


def quiet() -> float:
    """Wait (up to 20 s) for the machine to be nearly idle; answers the cores busy meanwhile."""
    return round(servers.wait_quiet(patience=20.0), 2)


@contextmanager
def profiling(proc: servers.Server, out: Path | None) -> Iterator[None]:
    """With a path: record `proc` with py-spy while the block runs (collapsed stacks)."""
    if out is None:
        yield
        return
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(proc.proc.pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--threads",  # profile_summary.py counts the main thread's samples
            "--nonblocking",  # pausing the process to sample would add to the latency measured
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        spy.wait(60)
        if out.exists():
            summary = out.with_suffix(".summary.txt")
            summary.write_text(profile_summary.summarize(out) + "\n")
            log(f"profile written to {out.name}, summary in {summary.name}")


def ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 2)


# --- the measurements -------------------------------------------------------------------------


async def latency(
    app: App, receiver: Receiver, plan: Plan, server: servers.Server, rate: float
) -> dict[str, Any]:
    """Decide pre-created requests at a steady `rate` per second (open loop: each decision goes
    at its planned time, whatever the previous ones are doing); latency = the receiver getting
    `request.completed` minus the decision's HTTP answer arriving, both on this process's
    clock. The first `plan.warmup` decisions are left out."""
    warmup = min(plan.warmup, int(rate))
    total = int(rate * plan.latency_seconds) + warmup
    endpoint = await subscribe(app, receiver.url, ["request.completed"])
    ids = await create_pending(app, total)
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    conns = [Conn(servers.HOST, app.port, app.reviewer) for _ in range(32)]
    for c in conns:
        pool.put_nowait(c)
    answered: dict[str, tuple[float, float]] = {}  # request id -> (sent, answered)
    late: list[float] = []
    errors = 0

    async def one(request_id: str, due: float) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            sent = time.perf_counter()
            late.append(sent - due)
            await decide(conn, request_id)
            answered[request_id] = (sent, time.perf_counter())
        except (HTTPError, OSError, asyncio.IncompleteReadError):
            errors += 1
        finally:
            pool.put_nowait(conn)

    load = quiet()
    cpu = Cpu({"serve": server})
    mark = len(receiver.arrivals)
    with cpu.measure():
        start = time.perf_counter() + 0.05
        tasks = []
        for i, request_id in enumerate(ids):
            due = start + i / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request_id, due)))
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            if len(receiver.since(mark, "request.completed")) >= len(answered):
                break
            await asyncio.sleep(0.01)
    got = {a.request_id: a.at for a in receiver.since(mark, "request.completed")}
    measured = ids[warmup:]
    after_answer: list[float] = []
    after_sent: list[float] = []
    first = 0
    for request_id in measured:
        if request_id in answered and request_id in got:
            sent, answer = answered[request_id]
            after_answer.append(got[request_id] - answer)
            after_sent.append(got[request_id] - sent)
            first += got[request_id] < answer
    for c in conns:
        await c.close()
    await unsubscribe(app, endpoint)
    signed = sorted(after_answer)
    after_answer = sorted(max(0.0, v) for v in after_answer)
    after_sent.sort()
    late.sort()
    return {
        "rate": rate,
        "achieved_rate": round(len(answered) / (max(a for _, a in answered.values()) - start), 1)
        if answered
        else 0.0,
        "decisions": len(measured),
        "errors": errors,
        "missing": sum(1 for r in measured if r in answered and r not in got),
        "p50_ms": ms(after_answer, 50),
        "p99_ms": ms(after_answer, 99),
        "max_ms": round(after_answer[-1] * 1000, 2) if after_answer else None,
        "min_signed_ms": round(signed[0] * 1000, 2) if signed else None,
        "webhook_before_answer": first,
        "decision_sent_to_webhook_p50_ms": ms(after_sent, 50),
        "decision_sent_to_webhook_p99_ms": ms(after_sent, 99),
        "decision_answer_p50_ms": ms(sorted(a - s for s, a in answered.values()), 50),
        "decision_answer_p99_ms": ms(sorted(a - s for s, a in answered.values()), 99),
        "send_late_p99_ms": ms(late, 99),
        "load_before": load,
        "cpu_cores": cpu.cores,
    }


async def steady(
    app: App, receiver: Receiver, plan: Plan, server: servers.Server
) -> dict[str, Any]:
    """Decisions flow as fast as `plan.steady_clients` reviewers can send them (closed loop)
    while the dispatcher inside `signoff serve` delivers every request event (`request.*`:
    each decision makes a `request.vote` and a `request.completed` message)."""
    ids = await create_pending(app, int(plan.steady_seconds * 600))
    endpoint = await subscribe(app, receiver.url, ["request.*"])
    conns = [Conn(servers.HOST, app.port, app.reviewer) for _ in range(plan.steady_clients)]
    answered: dict[str, float] = {}
    todo = iter(ids)
    load = quiet()
    cpu = Cpu({"serve": server})
    mark = len(receiver.arrivals)
    begin = time.perf_counter()
    end = begin + plan.steady_seconds

    async def reviewer(conn: Conn) -> None:
        while time.perf_counter() < end:
            request_id = next(todo, None)
            if request_id is None:
                return
            await decide(conn, request_id)
            answered[request_id] = time.perf_counter()

    with cpu.measure():
        await asyncio.gather(*(reviewer(c) for c in conns))
    stopped = time.perf_counter()
    in_window = [a for a in receiver.since(mark) if a.at <= stopped]
    backlog = len(answered) * 2 - len(in_window)
    drain_deadline = stopped + 30
    while len(receiver.since(mark)) < len(answered) * 2 and time.perf_counter() < drain_deadline:
        await asyncio.sleep(0.02)
    caught_up = time.perf_counter() - stopped
    lags = sorted(
        a.at - answered[a.request_id]
        for a in receiver.since(mark, "request.completed")
        if a.request_id in answered
    )
    for c in conns:
        await c.close()
    await unsubscribe(app, endpoint)
    wall = stopped - begin
    return {
        "seconds": round(wall, 2),
        "clients": plan.steady_clients,
        "decisions": len(answered),
        "decisions_per_second": round(len(answered) / wall, 1),
        "messages_made": len(answered) * 2,
        "delivered_in_window": len(in_window),
        "deliveries_per_second": round(len(in_window) / wall, 1),
        "backlog_at_end": backlog,
        "caught_up_after_s": round(caught_up, 2),
        "delivered_total": len(receiver.since(mark)),
        "completed_lag_p50_ms": ms(lags, 50),
        "completed_lag_p99_ms": ms(lags, 99),
        "load_before": load,
        "cpu_cores": cpu.cores,
    }


async def drain(
    target: Target, receiver: Receiver, plan: Plan, profile: Path | None, workers: int = 1
) -> dict[str, Any]:
    """Queue `plan.drain` messages with no dispatcher running (`serve` with
    SIGNOFF_WORKERS=false), then start `workers` `signoff worker` processes at once and time the
    receiver's arrivals until every message has arrived, and until every one is settled in the
    database."""
    server = target.serve(workers=False)
    try:
        app = await setup(server, target.admin_key(server))
        endpoint = await subscribe(app, receiver.url, ["request.created"])
        log(f"drain: queueing {plan.drain:,} messages (batch creates, no dispatcher running)")
        await create_pending(app, plan.drain)
        queued = target.pending()
        load = quiet()
        mark, duplicates = len(receiver.arrivals), receiver.duplicates
        log(f"drain: {queued:,} messages pending; starting {workers} `signoff worker`")
        started = [target.worker() for _ in range(workers)]
        try:
            for worker in started:
                worker.wait_ready()
            procs: dict[str, servers.Server] = {f"worker_{i}": w for i, w in enumerate(started)}
            cpu = Cpu({**procs, "serve": server})
            with cpu.measure(), profiling(started[0], profile):
                deadline = time.perf_counter() + 120
                while len(receiver.since(mark)) < queued and time.perf_counter() < deadline:
                    await asyncio.sleep(0.01)
                arrived = time.perf_counter()
                left = queued
                while left and time.perf_counter() < deadline:
                    left = target.pending()
                    if left:
                        await asyncio.sleep(0.05)
                settled = time.perf_counter()
        finally:
            for worker in started:
                worker.stop()
        await unsubscribe(app, endpoint)
    finally:
        server.stop()
    got = receiver.since(mark)
    worker_cores = sum(v for k, v in cpu.cores.items() if k.startswith("worker_"))
    times = sorted(a.at for a in got)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    # the steadiest second-long stretch: the rate once the worker is up to speed
    per_second = [sum(1 for t in times if s <= t < s + 1) for s in _steps(times)]
    return {
        "queued": queued,
        "delivered": len(got),
        "left_pending": left,
        "workers": workers,
        "duplicates": receiver.duplicates - duplicates,
        "start_to_first_delivery_s": round(times[0] - started[0].started, 2) if times else None,
        "first_to_last_s": round(span, 2),
        "deliveries_per_second": round((len(times) - 1) / span, 1) if span else 0.0,
        "best_second": max(per_second, default=0),
        "settled_after_last_s": round(settled - arrived, 2),
        "worker_cpu_cores": round(worker_cores, 2),
        "worker_cpu_ms_per_delivery": round(
            worker_cores * cpu.seconds / max(1, len(got)) * 1000, 3
        ),
        "load_before": load,
        "cpu_cores": cpu.cores,
    }


def _steps(times: list[float]) -> list[float]:
    if not times:
        return []
    return [times[0] + i * 0.5 for i in range(max(1, int((times[-1] - times[0]) * 2) - 1))]


LAYOUTS = {
    "one client": "one httpx.AsyncClient, a pool of as many connections as senders",
    "a client per sender": "an httpx.AsyncClient of one connection per sender (Signoff's layout)",
}


async def baseline(receiver: Receiver, plan: Plan, layout: str) -> dict[str, Any]:
    """The same receiver driven by plain httpx in a process of its own, as many senders at once
    as Signoff's dispatcher, each POSTing a real delivery's body and headers back to back, on
    asyncio's own event loop (as `signoff worker` runs): what one Python process pushes through
    HTTP on this machine. Bounded by `plan.drain` POSTs and `plan.baseline_seconds`."""
    assert receiver.sample is not None, "the drain ran first and captured a delivery"
    headers, body = receiver.sample
    keep = {"content-type", "user-agent", "webhook-timestamp", "webhook-signature"}
    spec = {
        "url": receiver.url,
        "count": plan.drain,
        "seconds": plan.baseline_seconds,
        "concurrency": plan.concurrency,
        "layout": layout,
        "headers": {k: v for k, v in headers.items() if k in keep},
        "body": body.decode(),
    }
    load = quiet()
    mark = len(receiver.arrivals)
    cpu0, t0 = time.process_time(), time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--baseline-client", json.dumps(spec), stdout=PIPE
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), plan.baseline_seconds + 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    wall = time.perf_counter() - t0
    result: dict[str, Any] = json.loads(out)
    result.update(
        layout=layout,
        received=len(receiver.since(mark)),
        receiver_cpu_cores=round((time.process_time() - cpu0) / wall, 2),
        load_before=load,
    )
    return result


async def _baseline_client(spec: dict[str, Any]) -> dict[str, Any]:
    import httpx

    count, concurrency = spec["count"], spec["concurrency"]
    if spec["layout"] == "one client":
        clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency))]
    else:
        one = httpx.Limits(max_connections=1)
        clients = [httpx.AsyncClient(limits=one) for _ in range(concurrency)]
    body = spec["body"].encode()
    started = sent = done = errors = 0

    async def sender(n: int) -> None:
        nonlocal started, done, errors
        client = clients[n % len(clients)]
        while started < count and time.perf_counter() < end:
            started += 1
            headers = {**spec["headers"], "webhook-id": f"base_{os.getpid()}_{started}"}
            try:
                response = await client.post(spec["url"], content=body, headers=headers)
                done += response.status_code == 200
                errors += response.status_code != 200
            except httpx.HTTPError:
                errors += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    end = t0 + spec["seconds"]
    await asyncio.gather(*(sender(n) for n in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    for client in clients:
        await client.aclose()
    sent = done + errors
    return {
        "sent": sent,
        "errors": errors,
        "seconds": round(wall, 2),
        "per_second": round(done / wall, 1),
        "client_cpu_cores": round(cpu / wall, 2),
        "client_cpu_ms_per_send": round(cpu / max(1, sent) * 1000, 3),
    }


# --- the run ----------------------------------------------------------------------------------


async def bench_target(
    target: Target, plan: Plan, profiles: Path | None, with_baseline: bool
) -> dict[str, Any]:
    receiver = Receiver()
    await receiver.start()
    results: dict[str, Any] = {}
    try:
        server = target.serve(workers=True)
        try:
            app = await setup(server, target.admin_key(server))
            for key, rate in (("latency", plan.rate), ("latency_light", plan.light_rate)):
                log(f"{target.name}: latency, {rate:g} decisions/s, {plan.latency_seconds:g} s")
                name = f"webhooks-{key.replace('_', '-')}-{target.name}"
                with profiling(server, profiles / f"profile-{name}.txt" if profiles else None):
                    results[key] = await latency(app, receiver, plan, server, rate)
            log(
                f"{target.name}: steady deliveries while decisions flow "
                f"({plan.steady_clients} clients)"
            )
            results["steady"] = await steady(app, receiver, plan, server)
        finally:
            server.stop()
        name = f"webhooks-drain-{target.name}"
        results["drain"] = await drain(
            target, receiver, plan, profiles / f"profile-{name}.txt" if profiles else None
        )
        results["drain_2_workers"] = await drain(target, receiver, plan, None, workers=2)
        if with_baseline:
            for layout in LAYOUTS:
                log(f"baseline: plain httpx, {layout}, {plan.concurrency} senders")
                results.setdefault("baseline", {})[layout] = await baseline(receiver, plan, layout)
        # the baseline is about this machine, not a database: kept at the top of the results
    finally:
        await receiver.stop()
    return results


@contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    name = f"signoff_whbench_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


Row = tuple[str, str, str, str]


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    base = r.get("baseline", {})
    for name, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        got = r.get(name)
        if not got:
            continue
        if lat := got.get("latency"):
            rows.append(
                (
                    f"{label}: decision answered -> webhook received, p50 ({lat['rate']:g}/s)",
                    f"{lat['p50_ms']} ms",
                    "target < 10 ms",
                    _verdict(lat["p50_ms"] < 10),
                )
            )
            rows.append(
                (
                    f"{label}: decision answered -> webhook received, p99 ({lat['rate']:g}/s)",
                    f"{lat['p99_ms']} ms",
                    f"target < 50 ms; max {lat['max_ms']} ms, n={lat['decisions']}, "
                    f"missing {lat['missing']}",
                    _verdict(lat["p99_ms"] < 50 and not lat["missing"]),
                )
            )
        for key in ("latency", "latency_light"):
            if lat := got.get(key):
                rows.append(
                    (
                        f"{label}, {lat['rate']:g} decisions/s: the decision's own answer",
                        f"p50 {lat['decision_answer_p50_ms']} ms",
                        f"p99 {lat['decision_answer_p99_ms']} ms; achieved "
                        f"{lat['achieved_rate']:g}/s; serve {lat['cpu_cores'].get('serve')} cores, "
                        f"others {lat['cpu_cores'].get('others')}",
                        "",
                    )
                )
        if lat := got.get("latency_light"):
            rows.append(
                (
                    f"{label}: decision answered -> webhook received ({lat['rate']:g}/s)",
                    f"p50 {lat['p50_ms']} ms",
                    f"p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms, n={lat['decisions']}",
                    "reference",
                )
            )
        if d := got.get("drain"):
            rate = d["deliveries_per_second"]
            ratios = [
                f"{rate / b['per_second']:.2f}x {k}" for k, b in base.items() if b["per_second"]
            ]
            rows.append(
                (
                    f"{label}: `signoff worker` draining {d['queued']:,} queued, deliveries/s",
                    f"{rate:,.0f}",
                    "; ".join(["target >= 1,000", *ratios]),
                    _verdict(rate >= 1000 and d["delivered"] >= d["queued"]),
                )
            )
            cpu = [f"{b['client_cpu_ms_per_send']} ms/POST {k}" for k, b in base.items()]
            rows.append(
                (
                    f"{label}: `signoff worker` CPU per delivery",
                    f"{d['worker_cpu_ms_per_delivery']} ms",
                    "; ".join([f"at {d['worker_cpu_cores']} cores", *cpu]),
                    "",
                )
            )
        if d := got.get("drain_2_workers"):
            rate = d["deliveries_per_second"]
            rows.append(
                (
                    f"{label}: 2 `signoff worker`s draining {d['queued']:,} queued, deliveries/s",
                    f"{rate:,.0f}",
                    f"workers {d['worker_cpu_cores']} cores, "
                    f"{d['worker_cpu_ms_per_delivery']} ms CPU/delivery; "
                    f"others {d['cpu_cores'].get('others')} cores",
                    "",
                )
            )
        if s := got.get("steady"):
            rows.append(
                (
                    f"{label}: `serve` while {s['decisions_per_second']:,.0f} decisions/s flow, "
                    "deliveries/s",
                    f"{s['deliveries_per_second']:,.0f}",
                    f"backlog at end {s['backlog_at_end']}, lag p50 {s['completed_lag_p50_ms']} "
                    f"ms, p99 {s['completed_lag_p99_ms']} ms",
                    "",
                )
            )
    for key, b in base.items():
        rows.append(
            (
                f"baseline: plain httpx, {key}, {r['plan']['concurrency']} senders, POSTs/s",
                f"{b['per_second']:,.0f}",
                f"{b['sent']:,} POSTs, client {b['client_cpu_cores']} cores "
                f"({b['client_cpu_ms_per_send']} ms/POST)",
                "baseline",
            )
        )
    return rows


def print_table(rows: list[Row]) -> None:
    print("\n| figure | measured | baseline / target | verdict |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _git(*args: str) -> str:
    found = subprocess.run(["git", *args], capture_output=True, text=True, cwd=servers.BENCH.parent)
    return found.stdout.strip()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-client":
        spec = json.loads(sys.argv[2])
        print(json.dumps(asyncio.run(_baseline_client(spec))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, fewer messages")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SIGNOFF_BENCH_POSTGRES_URL"),
        help="a PostgreSQL server where a scratch database may be created (else that part is "
        "skipped); also SIGNOFF_BENCH_POSTGRES_URL",
    )
    parser.add_argument("--only", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--profile", action="store_true", help="record the servers with py-spy")
    parser.add_argument("--drain", type=int, help="override the number of messages drained")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.drain:
        plan = Plan(**{**plan.__dict__, "drain": args.drain})
    wanted = set(args.only.split(",")) if args.only else {"sqlite", "postgresql"}
    if not args.postgres_url:
        wanted.discard("postgresql")
    out_dir = servers.BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    profiles = out_dir if args.profile else None
    path = (
        out_dir
        / f"webhooks-{'quick' if args.quick else 'full'}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    started = time.time()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan": plan.__dict__,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "commit": _git("rev-parse", "--short", "HEAD"),
        "src_changed": bool(_git("status", "--porcelain", "src")),
        "pythonpath": os.environ.get("PYTHONPATH"),  # another copy of signoff to measure
        "errors": {},
    }
    with tempfile.TemporaryDirectory(prefix="signoff-webhooks-") as root:
        for name in ("sqlite", "postgresql"):
            if name not in wanted:
                continue
            try:
                if name == "sqlite":
                    target = Target(name, Path(root) / name)
                    results[name] = uvloop.run(bench_target(target, plan, profiles, True))
                else:
                    with scratch_postgres(args.postgres_url) as url:
                        target = Target(name, Path(root) / name, url)
                        results[name] = uvloop.run(
                            bench_target(target, plan, profiles, "sqlite" not in wanted)
                        )
                if "baseline" in results[name]:
                    results["baseline"] = results[name].pop("baseline")
            except Exception as exc:  # one broken part must not lose the other's figures
                log(f"{name} failed: {exc!r}")
                results["errors"][name] = repr(exc)
            results["wall_seconds"] = round(time.time() - started)
            path.write_text(json.dumps(results, indent=2))
    print_table(report(results))
    print(f"\nresults: {path} ({results['wall_seconds']} s)")


if __name__ == "__main__":
    main()
