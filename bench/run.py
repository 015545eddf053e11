"""Signoff's benchmarks: one run measures every figure and the baseline it is compared with.

    .venv-bench/bin/python bench/run.py                 # the full run: 7 to 15 minutes
    .venv-bench/bin/python bench/run.py --quick         # a sanity run: 2 to 5 minutes
    .venv-bench/bin/python bench/run.py --postgres-url postgresql://postgres@127.0.0.1/test

Servers run in their own processes (servers.py); this process is the load generator and also
runs the in-process LangGraph peer. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import uvloop

import disk
import peer_langgraph
import profile_summary
import seed
import servers
from loadgen import Conn, HTTPError, Run, closed_loop, make_people, percentile

SECTIONS = ("disk", "create", "cycles", "langgraph", "list", "postgres")
DRAFT = {
    "title": "Refund for order 4411",
    "content": "Send a refund of $120.00 to jane@example.com for order 4411? "
    "The parcel arrived damaged; the customer sent a photo.",
    "metadata": {"ticket": "T-4411", "customer": "jane@example.com"},
}
APPROVE = json.dumps({"decision": "approve"}).encode()


@dataclass(frozen=True)
class Plan:
    warmup: float
    seconds: float
    concurrency: tuple[int, ...]
    wake_samples: int
    list_rows: int
    list_samples: int


FULL = Plan(2.0, 10.0, (16, 64), 500, 1_000_000, 300)
QUICK = Plan(0.5, 2.0, (16, 64), 50, 20_000, 30)


@dataclass
class Signoff:
    """A running Signoff with what the benchmarks need: keys, a reviewer, a loop."""

    server: servers.Server
    admin: str
    requester: str
    reviewer: str
    reviewer_id: str
    loop_ids: list[str]

    @property
    def port(self) -> int:
        return self.server.port


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def setup(server: servers.Server, admin: str, loops: int = 1, mine: int = 1) -> Signoff:
    """A reviewer user and key, a requester key and `loops` loops; the reviewer is in `mine`."""
    conn = Conn(servers.HOST, server.port, admin)
    people = await make_people(conn)
    loop_ids = []
    for i in range(loops):
        reviewers = [people.reviewer_id] if i < mine else []
        body = {"name": f"bench {people.tag} {i}", "reviewers": reviewers}
        loop_ids.append((await conn.json("POST", "/v1/loops", body, expect=201))["id"])
    await conn.close()
    return Signoff(
        server, admin, people.requester_key, people.reviewer_key, people.reviewer_id, loop_ids
    )


async def measured(server: servers.Server, work: Awaitable[Run]) -> dict[str, Any]:
    """Run `work` on a quiet machine; add the CPU the server, this client and everything else
    (other processes, PostgreSQL) used meanwhile, in cores, to its summary."""
    servers.wait_quiet()
    cpu0, (busy0, total0), t0 = server.cpu_seconds(), servers.machine_busy(), time.perf_counter()
    run = await work
    wall = time.perf_counter() - t0
    busy1, total1 = servers.machine_busy()
    out = run.summary()
    out["server_cpu_cores"] = round((server.cpu_seconds() - cpu0) / wall, 2)
    if run.rate:
        out["server_cpu_ms_per_op"] = round(out["server_cpu_cores"] / run.rate * 1000, 2)
    machine = (busy1 - busy0) / (total1 - total0) * servers.CPUS
    out["other_cpu_cores"] = round(machine - out["server_cpu_cores"] - run.client_cpu, 2)
    return out


async def create_load(
    server: servers.Server, token: str | None, path: str, plan: Plan, n: int
) -> dict[str, Any]:
    body = json.dumps(DRAFT).encode()
    conns = [Conn(servers.HOST, server.port, token) for _ in range(n)]

    async def create(conn: Conn, _: dict[str, list[float]]) -> None:
        status, data = await conn.request("POST", path, body)
        if status != 201:
            raise HTTPError(status, data, "create")

    result = await measured(
        server, closed_loop(conns, create, warmup=plan.warmup, seconds=plan.seconds)
    )
    for conn in conns:
        await conn.close()
    return result


async def wake(app: Signoff, samples: int) -> dict[str, Any]:
    """Park a long-poll on a pending request, decide it, and time the long-poll's answer.

    The wake is measured from the moment the decision's own answer arrives (the server commits,
    wakes the waiters, then answers the decision) to the moment the long-poll's answer arrives;
    `decision_sent_to_answer` also counts the decision's own write."""
    agent = Conn(servers.HOST, app.port, app.requester)
    waiter = Conn(servers.HOST, app.port, app.requester)
    reviewer = Conn(servers.HOST, app.port, app.reviewer)
    servers.wait_quiet()
    from_decision: list[float] = []
    after_decided: list[float] = []
    waiter_first = 0
    for i in range(samples + 20):
        created = await agent.json(
            "POST", f"/v1/loops/{app.loop_ids[0]}/requests", DRAFT, expect=201
        )
        path = f"/v1/requests/{created['id']}"
        waiting = asyncio.ensure_future(waiter.json("GET", f"{path}/response?wait=30"))
        await asyncio.sleep(0.01)  # the long-poll is parked by now (the server is idle)
        assert not waiting.done(), "the long-poll answered before the decision"
        t0 = time.perf_counter()
        status, data = await reviewer.request("POST", f"{path}/decisions", APPROVE)
        t1 = time.perf_counter()
        answer = await waiting
        t2 = time.perf_counter()
        if status != 201 or answer["decision"] != "approved":
            raise RuntimeError(f"decision failed: {status} {data!r} {answer}")
        if i >= 20:  # the first ones warm up connections and caches
            from_decision.append(t2 - t0)
            after_decided.append(max(0.0, t2 - t1))
            waiter_first += t2 < t1
    for conn in (agent, waiter, reviewer):
        await conn.close()
    from_decision.sort()
    after_decided.sort()
    return {
        "samples": samples,
        "wake_p50_ms": round(percentile(after_decided, 50) * 1000, 2),
        "wake_p99_ms": round(percentile(after_decided, 99) * 1000, 2),
        "wake_max_ms": round(after_decided[-1] * 1000, 2),
        "waiter_answered_first": waiter_first,
        "decision_sent_to_answer_p50_ms": round(percentile(from_decision, 50) * 1000, 2),
        "decision_sent_to_answer_p99_ms": round(percentile(from_decision, 99) * 1000, 2),
    }


@dataclass
class Agent:
    """One workflow and its reviewer: the agent creates and long-polls, the reviewer decides."""

    agent: Conn
    reviewer: Conn


async def cycles(app: Signoff, plan: Plan, clients: int) -> dict[str, Any]:
    """Full cycles: create, then long-poll /response?wait while the reviewer decides."""
    create_path = f"/v1/loops/{app.loop_ids[0]}/requests"
    body = json.dumps(DRAFT).encode()

    async def cycle(a: Agent, timings: dict[str, list[float]]) -> None:
        status, data = await a.agent.request("POST", create_path, body)
        if status != 201:
            raise HTTPError(status, data, "create")
        path = f"/v1/requests/{json.loads(data)['id']}"
        waiting = asyncio.ensure_future(a.agent.json("GET", f"{path}/response?wait=30"))
        t0 = time.perf_counter()
        try:
            status, data = await a.reviewer.request("POST", f"{path}/decisions", APPROVE)
            if status != 201:
                raise HTTPError(status, data, "decide")
            answer = await waiting
        except BaseException:
            waiting.cancel()
            await a.agent.close()
            raise
        timings["decision_to_answer"] = [time.perf_counter() - t0]
        if answer["decision"] != "approved":
            raise HTTPError(200, json.dumps(answer).encode(), "response")

    agents = [
        Agent(
            Conn(servers.HOST, app.port, app.requester),
            Conn(servers.HOST, app.port, app.reviewer),
        )
        for _ in range(clients)
    ]
    result = await measured(
        app.server, closed_loop(agents, cycle, warmup=plan.warmup, seconds=plan.seconds)
    )
    for a in agents:
        await a.agent.close()
        await a.reviewer.close()
    return result


def _cursor(id_: str) -> str:
    return base64.urlsafe_b64encode(id_.encode()).decode().rstrip("=")


async def list_pages(app: Signoff, ids: list[str], samples: int) -> dict[str, Any]:
    """p50/p99 of one client paging GET /v1/requests, for each filter shape."""
    rng = random.Random(11)
    deep = [i for i in ids[len(ids) // 10 : len(ids) * 9 // 10]]
    loop0, admin_loop = app.loop_ids[0], app.loop_ids[-1]
    old = datetime.fromtimestamp(time.time() - 20 * 86400, UTC)
    window = {
        "created_after": old.isoformat().replace("+00:00", "Z"),
        "created_before": datetime.fromtimestamp(old.timestamp() + 86400, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
    }
    cases: list[tuple[str, str, Callable[[], dict[str, str]]]] = [
        ("newest page", "admin", dict),
        ("deep cursor", "admin", lambda: {"cursor": _cursor(rng.choice(deep))}),
        ("status=pending", "admin", lambda: {"status": "pending"}),
        (
            "status=pending, deep",
            "admin",
            lambda: {"status": "pending", "cursor": _cursor(rng.choice(deep))},
        ),
        ("loop_id", "admin", lambda: {"loop_id": admin_loop}),
        (
            "loop_id, deep",
            "admin",
            lambda: {"loop_id": admin_loop, "cursor": _cursor(rng.choice(deep))},
        ),
        (
            "loop_id+status=pending, deep",
            "admin",
            lambda: {
                "loop_id": admin_loop,
                "status": "pending",
                "cursor": _cursor(rng.choice(deep)),
            },
        ),
        ("reviewer key (3 of 20 loops)", "reviewer", dict),
        ("reviewer key, deep", "reviewer", lambda: {"cursor": _cursor(rng.choice(deep))}),
        (
            "reviewer key, status=pending, deep",
            "reviewer",
            lambda: {"status": "pending", "cursor": _cursor(rng.choice(deep))},
        ),
        (
            "reviewer key, loop_id, deep",
            "reviewer",
            lambda: {"loop_id": loop0, "cursor": _cursor(rng.choice(deep))},
        ),
        ("created_after/before (1 day)", "admin", lambda: dict(window)),
        ("priority=urgent", "admin", lambda: {"priority": "urgent"}),
        (
            "priority=urgent, deep",
            "admin",
            lambda: {"priority": "urgent", "cursor": _cursor(rng.choice(deep))},
        ),
    ]
    conns = {
        "admin": Conn(servers.HOST, app.port, app.admin),
        "reviewer": Conn(servers.HOST, app.port, app.reviewer),
    }
    results: dict[str, Any] = {}
    for name, who, params in cases:
        conn = conns[who]
        latencies, rows = [], 0
        cpu0, (busy0, total0) = app.server.cpu_seconds(), servers.machine_busy()
        own0, t_start = time.process_time(), time.perf_counter()
        for i in range(samples + 10):
            query = urllib.parse.urlencode({"limit": 50, **params()})
            t0 = time.perf_counter()
            page = await conn.json("GET", f"/v1/requests?{query}")
            if i >= 10:
                latencies.append(time.perf_counter() - t0)
                rows += len(page["data"])
        latencies.sort()
        wall = time.perf_counter() - t_start
        busy1, total1 = servers.machine_busy()
        server = (app.server.cpu_seconds() - cpu0) / wall
        own = (time.process_time() - own0) / wall
        machine = (busy1 - busy0) / (total1 - total0) * servers.CPUS
        results[name] = {
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "max_ms": round(latencies[-1] * 1000, 2),
            "rows_per_page": round(rows / samples, 1),
            "server_cpu_ms_per_page": round(server * wall / (samples + 10) * 1000, 2),
            "other_cpu_cores": round(machine - server - own, 2),
        }
    for conn in conns.values():
        await conn.close()
    return results


class Bench:
    def __init__(self, plan: Plan, root: Path, pg_url: str | None, profiles: Path | None) -> None:
        self.plan, self.root, self.pg_url, self.profiles = plan, root, pg_url, profiles
        self.results: dict[str, Any] = {}
        self.create_path = "/v1/loops/loop_0/requests"

    def disk(self) -> None:
        seconds = max(2.0, self.plan.seconds / 2)
        log(f"disk: fsync and SQLite commit rates in {self.root}")
        self.results["disk"] = {
            "fsync": disk.fsync_rate(self.root, seconds),
            "sqlite_commit": disk.sqlite_commit_rate(self.root, seconds),
        }

    async def signoff_sqlite(self, sections: set[str]) -> None:
        """Create throughput, wake latency and full cycles against Signoff on SQLite."""
        label = "Signoff on SQLite"
        server = servers.signoff(self.root / "sqlite")
        try:
            app = await setup(server, server.first_key())
            path = f"/v1/loops/{app.loop_ids[0]}/requests"
            sample = await Conn(servers.HOST, app.port, app.requester).json(
                "POST", path, DRAFT, expect=201
            )
            (self.root / "answer.json").write_text(json.dumps(sample))
            self.create_path = path
            if "create" in sections:
                for n in self.plan.concurrency:
                    log(f"create: {label}, {n} clients")
                    with self._profiling(server, f"create-sqlite-{n}"):
                        got = await create_load(server, app.requester, path, self.plan, n)
                    self.results.setdefault("create_sqlite", {})[str(n)] = got
            if "cycles" in sections:
                log(f"wake: {label}, decide, then time the parked long-poll's answer")
                self.results["wake"] = await wake(app, self.plan.wake_samples)
                for n in (1, 64):
                    log(f"cycles: {label}, {n} clients")
                    with self._profiling(server, f"cycles-sqlite-{n}"):
                        got = await cycles(app, self.plan, n)
                    self.results.setdefault("cycles_sqlite", {})[str(n)] = got
        finally:
            server.stop()

    async def bare(self) -> None:
        bare = servers.bare(self.root / "answer.json", self.root / "bare.log")
        try:
            for n in self.plan.concurrency:
                log(f"create: bare FastAPI baseline, {n} clients")
                got = await create_load(bare, None, self.create_path, self.plan, n)
                self.results.setdefault("create_bare", {})[str(n)] = got
        finally:
            bare.stop()

    def langgraph(self) -> None:
        folder = self.root / "langgraph"
        folder.mkdir()
        log("langgraph: in-process interrupt/Command(resume) cycles, 1 client")
        seq = _with_cpu(
            lambda: peer_langgraph.sequential(folder, self.plan.warmup, self.plan.seconds)
        )
        log("langgraph: 64 concurrent tasks (AsyncSqliteSaver)")
        many = _with_cpu(
            lambda: peer_langgraph.concurrent(folder, 64, self.plan.warmup, self.plan.seconds)
        )
        self.results["langgraph"] = {"1": seq, "64": many}

    async def listing(self) -> None:
        rows = self.plan.list_rows
        data = self.root / "list"
        server = servers.signoff(data)
        try:
            app = await setup(server, server.first_key(), loops=20, mine=3)
            template = await Conn(servers.HOST, app.port, app.requester).json(
                "POST", f"/v1/loops/{app.loop_ids[0]}/requests", DRAFT, expect=201
            )
        finally:
            server.stop()
        log(f"list: loading {rows:,} requests into SQLite")
        t0 = time.perf_counter()
        ids = seed.seed_sqlite(str(data / "signoff.db"), template["id"], rows, app.loop_ids)
        loaded = time.perf_counter() - t0
        app.server = server = servers.signoff(data)
        try:
            log("list: paging GET /v1/requests")
            with self._profiling(server, "list-sqlite"):
                pages = await list_pages(app, ids, self.plan.list_samples)
        finally:
            server.stop()
        size = sum(f.stat().st_size for f in data.glob("signoff.db*"))
        self.results["list_sqlite"] = {
            "rows": rows,
            "load_seconds": round(loaded, 1),
            "db_mb": round(size / 2**20),
            "cases": pages,
        }

    async def postgres(self) -> None:
        assert self.pg_url
        for variant in ("sealer", "inline"):
            name = f"signoff_bench_{os.getpid()}_{variant}"
            with psycopg.connect(self.pg_url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name}")
                admin.execute(f"CREATE DATABASE {name}")
            try:
                await self._postgres_variant(variant, _url(self.pg_url, name))
            finally:  # also when the server failed to start
                with psycopg.connect(self.pg_url, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    async def _postgres_variant(self, variant: str, dsn: str) -> None:
        server = servers.signoff(
            self.root / f"pg-{variant}",
            database_url=dsn,
            variant="inline-seal" if variant == "inline" else "",
        )
        try:
            app = await setup(server, server.first_key())
            path = f"/v1/loops/{app.loop_ids[0]}/requests"
            for n in self.plan.concurrency:
                log(f"create: Signoff on PostgreSQL, events sealed {variant}, {n} clients")
                with self._profiling(server, f"create-pg-{variant}-{n}"):
                    got = await create_load(server, app.requester, path, self.plan, n)
                self.results.setdefault(f"create_pg_{variant}", {})[str(n)] = got
            await asyncio.sleep(1.5)  # let the sealer catch up
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT count(*) FROM events WHERE seq IS NULL").fetchone()
            self.results[f"create_pg_{variant}"]["unsealed_after_1.5s"] = row[0] if row else -1
        finally:
            server.stop()

    def _profiling(self, server: servers.Server, name: str) -> Any:
        return _PySpy(server, self.profiles / f"profile-{name}.txt" if self.profiles else None)


class _PySpy:
    """With a path: record the server with py-spy while the block runs (collapsed stacks)."""

    def __init__(self, server: servers.Server, out: Path | None) -> None:
        self.server, self.out = server, out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> None:
        if self.out is None:
            return
        py_spy = Path(sys.executable).with_name("py-spy")
        self.proc = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(self.server.proc.pid),
                "--format",
                "raw",
                "--rate",
                "200",
                "--threads",
                "--output",
                str(self.out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(2)  # SIGINT: py-spy writes its file and exits
            self.proc.wait(60)
            assert self.out is not None
            summary = self.out.with_suffix(".summary.txt")
            summary.write_text(profile_summary.summarize(self.out) + "\n")
            log(f"profile written to {self.out}, summary in {summary.name}")


def _with_cpu(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run an in-process measurement on a quiet machine; add its CPU and everyone else's."""
    servers.wait_quiet()
    cpu0, (busy0, total0), t0 = time.process_time(), servers.machine_busy(), time.perf_counter()
    out = work()
    wall = time.perf_counter() - t0
    busy1, total1 = servers.machine_busy()
    own = (time.process_time() - cpu0) / wall
    machine = (busy1 - busy0) / (total1 - total0) * servers.CPUS
    out["own_cpu_cores"] = round(own, 2)
    out["other_cpu_cores"] = round(machine - own, 2)
    return out


def _git(*args: str) -> str:
    found = subprocess.run(["git", *args], capture_output=True, text=True, cwd=servers.BENCH)
    return found.stdout.strip()


def _url(pg_url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(pg_url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _verdict(ok: bool, by: str = "") -> str:
    return "met" if ok else f"MISSED{f' ({by})' if by else ''}"


def _short(have: float, need: float) -> str:
    """How far `have` is below `need`: a percentage when close, a factor when far."""
    if not have or not need:
        return ""
    return f"{need / have:.1f}x short" if need >= 2 * have else f"{1 - have / need:.0%} short"


Row = tuple[str, str, str, str]


def _disk_rows(r: dict[str, Any]) -> list[Row]:
    d = r["disk"]
    f, c = d["fsync"], d["sqlite_commit"]
    return [
        (
            "disk: 128-byte append + fsync, per s",
            f"{f['per_second']:,.0f}",
            f"p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms",
            "ceiling",
        ),
        (
            "disk: SQLite commit (WAL, synchronous=FULL), per s",
            f"{c['per_second']:,.0f}",
            f"p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms",
            "ceiling",
        ),
    ]


def _create_rows(r: dict[str, Any], key: str, label: str) -> list[Row]:
    rows: list[Row] = []
    for n, got in r.get(key, {}).items():
        if not n.isdigit():
            continue
        base = r.get("create_bare", {}).get(n, {}).get("per_second", 0)
        ratio = got["per_second"] / base if base else 0
        verdict = _verdict(ratio >= 0.5, _short(ratio, 0.5))
        rows.append(
            (
                f"{label}, {n} clients: creates/s",
                f"{got['per_second']:,.0f}",
                f"{ratio:.3f}x bare (target >= 0.5x)",
                verdict if base else "",
            )
        )
        rows.append(
            (
                f"{label}, {n} clients: latency",
                f"p50 {got['p50_ms']} ms",
                f"p99 {got['p99_ms']} ms",
                "",
            )
        )
    return rows


def _cycle_rows(r: dict[str, Any], key: str, label: str) -> list[Row]:
    rows: list[Row] = []
    lg1 = r.get("langgraph", {}).get("1", {}).get("per_second", 0)
    for n, factor in (("1", 1), ("64", 10)):
        got = r.get(key, {}).get(n)
        if not got:
            continue
        rate = got["per_second"]
        verdict = _verdict(rate >= factor * lg1, _short(rate, factor * lg1))
        rows.append(
            (
                f"{label}, {n} client{'s' if n != '1' else ''}: cycles/s",
                f"{rate:,.1f}",
                f"{_ratio(rate, lg1)} LangGraph 1-client (target >= {factor}x)",
                verdict if lg1 else "",
            )
        )
        rows.append(
            (
                f"{label}, {n} client{'s' if n != '1' else ''}: cycle latency",
                f"p50 {got['p50_ms']} ms",
                f"p99 {got['p99_ms']} ms",
                "",
            )
        )
    return rows


def _wake_rows(r: dict[str, Any], key: str, label: str) -> list[Row]:
    w = r[key]
    return [
        (
            f"{label}: wake, decision answered -> long-poll answered",
            f"p50 {w['wake_p50_ms']} ms",
            f"p99 {w['wake_p99_ms']} ms (target < 10 ms)",
            _verdict(w["wake_p99_ms"] < 10),
        ),
        (
            f"{label}: decision sent -> long-poll answered",
            f"p50 {w['decision_sent_to_answer_p50_ms']} ms",
            f"p99 {w['decision_sent_to_answer_p99_ms']} ms",
            "",
        ),
    ]


def report(r: dict[str, Any]) -> list[Row]:
    """(figure, measured, baseline or target, verdict) rows for the table."""
    rows: list[Row] = []
    if "disk" in r:
        rows += _disk_rows(r)
    for n, bare in r.get("create_bare", {}).items():
        rows.append(
            (
                f"bare FastAPI, {n} clients: answers/s",
                f"{bare['per_second']:,.0f}",
                f"p50 {bare['p50_ms']} ms, p99 {bare['p99_ms']} ms",
                "baseline",
            )
        )
    rows += _create_rows(r, "create_sqlite", "Signoff on SQLite")
    if "wake" in r:
        rows += _wake_rows(r, "wake", "SQLite")
    lg = r.get("langgraph", {})
    if lg:
        rows.append(
            (
                "LangGraph in-process, 1 client: cycles/s",
                f"{lg['1']['per_second']:,.1f}",
                f"p50 {lg['1']['p50_ms']} ms, p99 {lg['1']['p99_ms']} ms",
                "peer",
            )
        )
        rows.append(
            (
                "LangGraph in-process, 64 tasks: cycles/s",
                f"{lg['64']['per_second']:,.1f}",
                f"p50 {lg['64']['p50_ms']} ms, p99 {lg['64']['p99_ms']} ms",
                "peer",
            )
        )
    rows += _cycle_rows(r, "cycles_sqlite", "Signoff on SQLite")
    if "list_sqlite" in r:
        cases = r["list_sqlite"]["cases"]
        count = r["list_sqlite"]["rows"]
        for name, got in cases.items():
            rows.append(
                (
                    f"list, {count:,} rows: {name}",
                    f"p50 {got['p50_ms']} ms",
                    f"p99 {got['p99_ms']} ms (target < 20 ms)",
                    _verdict(got["p99_ms"] < 20, f"+{got['p99_ms'] - 20:.1f} ms"),
                )
            )
    sealer, inline = r.get("create_pg_sealer", {}), r.get("create_pg_inline", {})
    for n in [k for k in sealer if k.isdigit()]:
        rows.append(
            (
                f"Signoff on PostgreSQL, {n} clients, sealer: creates/s",
                f"{sealer[n]['per_second']:,.0f}",
                f"p50 {sealer[n]['p50_ms']} ms, p99 {sealer[n]['p99_ms']} ms",
                "",
            )
        )
        if n in inline:
            ratio = _ratio(sealer[n]["per_second"], inline[n]["per_second"])
            rows.append(
                (
                    f"Signoff on PostgreSQL, {n} clients, inline seal: creates/s",
                    f"{inline[n]['per_second']:,.0f}",
                    f"p50 {inline[n]['p50_ms']} ms, p99 {inline[n]['p99_ms']} ms",
                    f"sealer = {ratio} inline",
                )
            )
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    print("\n| figure | measured | baseline / target | verdict |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 20k list rows")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SIGNOFF_BENCH_POSTGRES_URL"),
        help="a PostgreSQL server where scratch databases may be created (else that part is "
        "skipped); also SIGNOFF_BENCH_POSTGRES_URL",
    )
    parser.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    parser.add_argument("--data-root", type=Path, help="where scratch data lives (default: /tmp)")
    parser.add_argument("--profile", action="store_true", help="record servers with py-spy")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data")
    parser.add_argument("--seconds", type=float, help="override the measuring window of each run")
    parser.add_argument("--rows", type=int, help="override the number of rows the list bench loads")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.seconds:
        plan = dataclasses.replace(plan, seconds=args.seconds)
    if args.rows:
        plan = dataclasses.replace(plan, list_rows=args.rows)
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    if unknown := sections - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if not args.postgres_url:
        sections.discard("postgres")
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="signoff-bench-", dir=args.data_root))
    bench = Bench(plan, root, args.postgres_url, out_dir if args.profile else None)
    started = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{'quick' if args.quick else 'full'}-{stamp}.json"
    steps: list[tuple[str, Callable[[], object]]] = [
        ("disk", bench.disk),
        ("create", lambda: uvloop.run(bench.signoff_sqlite(sections))),
        ("bare", lambda: uvloop.run(bench.bare())),
        ("langgraph", bench.langgraph),
        ("list", lambda: uvloop.run(bench.listing())),
        ("postgres", lambda: uvloop.run(bench.postgres())),
    ]
    wanted = {
        "disk": "disk" in sections,
        "create": bool(sections & {"create", "cycles"}),
        "bare": "create" in sections,
        "langgraph": "langgraph" in sections,
        "list": "list" in sections,
        "postgres": "postgres" in sections,
    }
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan": asdict(plan),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "src")),
        "errors": {},
    }
    try:
        for name, step in steps:
            if not wanted[name]:
                continue
            try:
                step()
            except Exception as exc:  # one broken part must not lose the others' figures
                log(f"{name} failed: {exc!r}")
                results["errors"][name] = repr(exc)
            results.update(bench.results, wall_seconds=round(time.time() - started))
            path.write_text(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_table(report(results))
    print(f"\nresults: {path} ({results['wall_seconds']} s)")


if __name__ == "__main__":
    main()
