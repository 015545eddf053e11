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
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from ..domain.model import Attempt, Message
from ..service import deliveries
from ..service.context import Context
from ..service.deliveries import Outgoing, Policy
from .sender import send

log = logging.getLogger(__name__)


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


class Dispatcher:
    def __init__(self, ctx: Context, config: DispatcherConfig) -> None:
        self._ctx = ctx
        self._config = config
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._results: asyncio.Queue[tuple[Message, Attempt]] = asyncio.Queue()
        self._sending: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        limits = httpx.Limits(max_connections=self._config.concurrency)
        self._client = httpx.AsyncClient(
            transport=self._config.transport, limits=limits, follow_redirects=False
        )
        self._ctx.wake_dispatcher = self.poke
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="signoff-dispatcher"),
            asyncio.create_task(self._settle_loop(), name="signoff-settler"),
        ]

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, let sends in flight finish (up to `grace`), record them, close."""
        self._ctx.wake_dispatcher = lambda: None
        claimer, settler = self._tasks
        claimer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claimer
        if self._sending:
            await asyncio.wait(self._sending, timeout=grace)
        for task in self._sending:
            task.cancel()  # their leases run out and another dispatcher sends them again
        await self._drain()
        settler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await settler
        if self._client:
            await self._client.aclose()

    async def _claim_loop(self) -> None:
        while True:
            self._wake.clear()
            free = self._config.concurrency - len(self._sending)
            claimed: list[Outgoing] = []
            if free > 0:
                try:
                    claimed = await deliveries.claim(self._ctx, free, self._config.lease)
                except Exception:
                    log.exception("claiming messages failed; trying again")
            for out in claimed:
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver(out))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            if len(claimed) < free or free <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._config.poll_interval)

    async def _deliver(self, out: Outgoing) -> None:
        try:
            assert self._client is not None
            attempt = await send(
                self._client,
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
