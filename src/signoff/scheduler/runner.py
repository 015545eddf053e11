"""The scheduler loop: fire what is due, then sleep until the next timer is due.

Runs inside `signoff serve` and `signoff worker`; any number may run against one database
(service/timeouts.py fire_due claims with SKIP LOCKED and fires in the claiming transaction).
Every sleep is computed from `ctx.clock`, capped by `max_sleep`, and cut short by `poke(due)`
when a new timer is due before the one it waits for, so a test that moves its clock and pokes
sees timers fire without waiting in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from ..service import timeouts
from ..service.context import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerConfig:
    batch: int = 200  # timers fired per transaction
    max_sleep: float = 5.0  # seconds: look again at least this often (other processes' timers)
    retry_after_error: float = 1.0


class Scheduler:
    def __init__(self, ctx: Context, config: SchedulerConfig | None = None) -> None:
        self._ctx = ctx
        self._config = config or SchedulerConfig()
        self._wake = asyncio.Event()
        self._next: datetime | None = None  # the due time this loop is sleeping towards
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.fired = 0  # timers claimed and fired by this scheduler (for tests and benchmarks)

    def poke(self, due: datetime | None = None) -> None:
        """New timers, the earliest due at `due` (None: look again now)."""
        if due is None or self._next is None or due < self._next:
            self._wake.set()

    def start(self) -> None:
        self._ctx.wake_scheduler = self.poke
        self._task = asyncio.create_task(self._run(), name="signoff-scheduler")

    async def stop(self) -> None:
        self._ctx.wake_scheduler = lambda _: None
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                # A firing is one transaction: let it finish rather than cancel it half-way.
                await asyncio.wait_for(self._task, 10)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await timeouts.fire_due(self._ctx, self._config.batch)
                self.fired += claimed
                if claimed >= self._config.batch:
                    continue  # more may be due: no sleep
                self._next = await timeouts.next_due(self._ctx)
            except Exception:
                log.exception("firing timers failed; trying again")
                self._next = None
                await self._sleep(self._config.retry_after_error)
                continue
            await self._sleep(self._delay())
        self._next = None

    def _delay(self) -> float:
        if self._next is None:
            return self._config.max_sleep
        left = (self._next - self._ctx.clock()).total_seconds()
        return min(max(left, 0.0), self._config.max_sleep)

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
