"""The outbox dispatcher: claims due messages, sends each on its own task, settles in batches.

Runs inside `signoff serve` and alone as `signoff worker`; any number may run against one
database (see store/outbox.py claim_due). A send never holds a database transaction open, and
a slow receiver never holds up the others: each message is its own task, bounded by
`concurrency`, and results are written back by one settler in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from ..domain.model import Attempt, Message
from ..service import deliveries
from ..service.context import Context
from ..service.deliveries import Outgoing, Policy
from .sender import send

log = logging.getLogger(__name__)
CONNECTIONS_PER_POOL = 8


@dataclass
class DispatcherConfig:
    timeout: float = 10.0
    concurrency: int = 64
    poll_interval: float = 0.5
    allow_private: bool = False
    policy: Policy = field(default_factory=Policy)
    transport: httpx.AsyncBaseTransport | None = None  # tests may inject one

    @property
    def lease(self) -> timedelta:
        # Longer than any send can take, so a claimed message is never sent twice at once.
        return timedelta(seconds=self.timeout * 2 + 30)


class _Clients:
    """HTTP clients with small connection pools; each send takes the least busy one.

    httpcore looks at every connection of a pool on each request and response (a poll() on
    each idle one), so one pool of 64 connections spent more CPU choosing a connection than
    sending; with pools of 8, 64 sends at a time cost little more than 8.
    """

    def __init__(self, concurrency: int, transport: httpx.AsyncBaseTransport | None) -> None:
        count = 1 if transport else -(-concurrency // CONNECTIONS_PER_POOL)
        limits = httpx.Limits(max_connections=-(-concurrency // count))
        tls = httpx.create_ssl_context()  # made once: each one loads the CA bundle (~40 ms)
        self._busy = {
            httpx.AsyncClient(
                transport=transport,
                limits=limits,
                follow_redirects=False,
                verify=tls,
                # No proxy from the environment: a send must reach the address the SSRF guard
                # checked, not whatever a proxy would connect to.
                trust_env=False,
            ): 0
            for _ in range(count)
        }

    @contextlib.asynccontextmanager
    async def take(self) -> AsyncIterator[httpx.AsyncClient]:
        # With at most `concurrency` sends at once, the least busy pool has a free connection.
        client = min(self._busy, key=self._busy.__getitem__)
        self._busy[client] += 1
        try:
            yield client
        finally:
            self._busy[client] -= 1

    async def aclose(self) -> None:
        for client in self._busy:
            await client.aclose()


class Dispatcher:
    def __init__(self, ctx: Context, config: DispatcherConfig) -> None:
        self._ctx = ctx
        self._config = config
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._results: asyncio.Queue[tuple[Message, Attempt]] = asyncio.Queue()
        self._sending: dict[asyncio.Task[None], str] = {}  # each send and its message id
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: _Clients | None = None
        self._stopping = False

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._clients = _Clients(self._config.concurrency, self._config.transport)
        self._ctx.wake_dispatcher = self.poke
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="signoff-dispatcher"),
            asyncio.create_task(self._settle_loop(), name="signoff-settler"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, let sends in flight finish (up to `grace`), record them, close."""
        self._ctx.wake_dispatcher = lambda: None
        claimer, settler = self._tasks
        # Not cancelled mid-claim: a claim is a database transaction, let it finish.
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(claimer, grace)
        except TimeoutError:
            pass
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=grace)
        unfinished = list(self._sending.items())
        for task, _ in unfinished:
            task.cancel()
        await self._drain()
        if unfinished:  # due again at once, for this process's successor or another dispatcher
            with contextlib.suppress(Exception):
                await deliveries.release(
                    self._ctx, [message_id for _, message_id in unfinished], self._ctx.clock()
                )
        settler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await settler
        if self._clients:
            await self._clients.aclose()

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._sending.pop(task, None)

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self._config.concurrency - len(self._sending)
            claimed: list[Outgoing] = []
            if free > 0:
                try:
                    claimed = await deliveries.claim(self._ctx, free, self._config.lease)
                except Exception:
                    log.exception("claiming messages failed; trying again")
            for out in claimed:
                if self._stopping:  # give it back: due again at once, for whoever runs next
                    await deliveries.release(self._ctx, [out.message.id], self._ctx.clock())
                    continue
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver(out))
                self._sending[task] = out.message.id
                task.add_done_callback(self._forget)
            if len(claimed) < free or free <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._config.poll_interval)

    async def _deliver(self, out: Outgoing) -> None:
        try:
            assert self._clients is not None
            async with self._clients.take() as client:
                attempt = await send(
                    client,
                    out,
                    now=self._ctx.clock,
                    allow_private=self._config.allow_private,
                    timeout=self._config.timeout,
                )
            self._results.put_nowait((out.message, attempt))
        finally:
            self._slots.release()
            self._wake.set()  # a slot is free: look for more work

    async def _settle_loop(self) -> None:
        while True:
            first = await self._results.get()
            await self._settle([first, *self._take_ready()])

    def _take_ready(self) -> list[tuple[Message, Attempt]]:
        ready = []
        while not self._results.empty():
            ready.append(self._results.get_nowait())
        return ready

    async def _drain(self) -> None:
        ready = self._take_ready()
        if ready:
            await self._settle(ready)

    async def _settle(self, batch: list[tuple[Message, Attempt]]) -> None:
        try:
            await deliveries.settle(self._ctx, self._config.policy, batch)
        except Exception:
            # The leases run out and the messages are sent again: at least once, never lost.
            log.exception("recording %d delivery results failed", len(batch))
