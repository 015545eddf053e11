"""Wakes this process for what other processes wrote to the same SQLite file.

On PostgreSQL, LISTEN/NOTIFY tells every process what changed (store/notify.py). SQLite has no
such channel, so a decision made by `signoff requests approve`, or by a `signoff worker` beside
`signoff serve`, would reach a waiting long-poll only when it timed out. The watcher closes
that gap: every `interval` seconds it asks SQLite whether anything committed since (`PRAGMA
data_version`, microseconds, no table read); if so, it reads the events sealed since it last
looked (a range scan of the `seq` index) and, for those this process did not write itself,
wakes the request's waiters, the event streams and the dispatcher.

Every event is sealed as its transaction writes it on SQLite (service/context.py), so the
sealed sequence is everything that committed. A process's own events are announced by its
transactions already; it marks their ids before committing (`expect`) so the watcher skips them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import suppress

from ..store import events as event_store
from .context import Context

log = logging.getLogger(__name__)
BATCH = 1000


class EventWatcher:
    def __init__(self, ctx: Context, interval: float = 0.25) -> None:
        self._ctx = ctx
        self._interval = interval
        self._mine: set[str] = set()
        self._after = 0
        self._task: asyncio.Task[None] | None = None
        self._probe = ctx.db.change_probe()

    def expect(self, event_ids: Iterable[str]) -> None:
        """Events this process is writing: announced by their own transaction, not again here."""
        self._mine.update(event_ids)

    def forget(self, event_ids: Iterable[str]) -> None:
        """Events whose transaction rolled back: they will never be seen."""
        self._mine.difference_update(event_ids)

    async def start(self) -> None:
        async with self._ctx.db.read() as conn:
            self._after, _ = await event_store.chain_head(conn)
        self._task = asyncio.create_task(self._run(), name="signoff-event-watcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._probe is not None:
            self._probe.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if self._probe is not None and not self._probe.changed():
                    continue
                while await self.look() == BATCH:
                    pass
            except Exception:
                log.exception("reading new events failed; trying again")

    async def look(self) -> int:
        """Read the events sealed since the last look and announce the others' ones."""
        async with self._ctx.db.read() as conn:
            found = await event_store.sealed_after(conn, self._after, BATCH)
        if not found:
            return 0
        self._after = found[-1][0]
        changed: set[str] = set()
        foreign = False
        for _, event_id, request_id in found:
            if event_id in self._mine:
                self._mine.discard(event_id)
                continue
            foreign = True
            if request_id:
                changed.add(request_id)
        notifier = self._ctx.notifier
        for request_id in changed:
            notifier.publish(request_id)
        if foreign:
            notifier.publish_feed()
            self._ctx.wake_dispatcher()  # the other process may have queued webhooks
        return len(found)
