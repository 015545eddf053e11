"""Wakes the callers waiting on a request (long-polls) the moment it changes.

In one process, `publish` is called right after the deciding transaction commits. With several
replicas on PostgreSQL, the deciding transaction also sends a NOTIFY, and each replica's
listener (store/notify.py) calls `publish` for it. A waiter costs one asyncio.Event: no
database work while it waits.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class Notifier:
    def __init__(self) -> None:
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._feed: set[asyncio.Event] = set()

    @contextmanager
    def subscribe(self, request_id: str) -> Iterator[asyncio.Event]:
        """Subscribe before reading the request, so a change between the read and the wait
        still wakes the waiter."""
        event = asyncio.Event()
        self._waiters[request_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(request_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[request_id]

    def publish(self, request_id: str) -> None:
        for event in self._waiters.get(request_id, ()):
            event.set()

    @contextmanager
    def subscribe_feed(self) -> Iterator[asyncio.Event]:
        """Set whenever new events are sealed into the log: what event streams wait on."""
        event = asyncio.Event()
        self._feed.add(event)
        try:
            yield event
        finally:
            self._feed.discard(event)

    def publish_feed(self) -> None:
        for event in self._feed:
            event.set()

    def publish_all(self) -> None:
        """Wake everyone to look again: after a lost LISTEN connection some news may be lost."""
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()
        self.publish_feed()

    @property
    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())
