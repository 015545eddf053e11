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
from .email import SmtpConfig, send_email
from .sender import send

log = logging.getLogger(__name__)
SETTLE_LINGER = 0.05  # seconds a delivery's result waits for others, to be written with them


@dataclass
class DispatcherConfig:
    timeout: float = 10.0
    concurrency: int = 64
    poll_interval: float = 0.5
    allow_private: bool = False
    policy: Policy = field(default_factory=Policy)
    transport: httpx.AsyncBaseTransport | None = None  # tests may inject one
    smtp: SmtpConfig | None = None  # where mail goes; None: no mail server configured

    @property
    def lease(self) -> timedelta:
        # Longer than any send can take, so a claimed message is never sent twice at once.
        return timedelta(seconds=self.timeout * 2 + 30)


class _Clients:
    """HTTP clients of one connection each; a send takes a free one, preferably one whose
    connection already goes to the same origin (scheme, host and port).

    httpcore looks at every connection of a pool on each request and response (a poll() on
    each idle one), so one pool of 64 connections spent more CPU choosing a connection than
    sending, and pools of 8 still an eighth of a delivery's CPU. With one connection per
    client it has nothing to choose: which connection a send reuses is decided here, in
    constant time, and a free connection to the same origin is always the one reused.
    """

    def __init__(self, concurrency: int, transport: httpx.AsyncBaseTransport | None) -> None:
        tls = httpx.create_ssl_context()  # made once: each one loads the CA bundle (~40 ms)

        def client(connections: int) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=transport,
                limits=httpx.Limits(max_connections=connections),
                follow_redirects=False,
                verify=tls,
                # No proxy from the environment: a send must reach the address the SSRF guard
                # checked, not whatever a proxy would connect to.
                trust_env=False,
            )

        # An injected transport (tests) has no connections: one client carries every send.
        self._shared = client(concurrency) if transport else None
        self._all = [] if transport else [client(1) for _ in range(concurrency)]
        # The free clients by the origin their connection goes to ("": none yet); a key is
        # removed when its list empties, so any key has a free client.
        self._free: dict[str, list[httpx.AsyncClient]] = {"": list(self._all)} if self._all else {}

    @contextlib.asynccontextmanager
    async def take(self, origin: str) -> AsyncIterator[httpx.AsyncClient]:
        if self._shared is not None:
            yield self._shared
            return
        # With at most `concurrency` sends at once, some client is free: one connected to
        # `origin` if there is one, else an unused one, else one connected elsewhere (which
        # closes that connection and opens one to `origin`).
        key = (
            origin if origin in self._free else ("" if "" in self._free else next(iter(self._free)))
        )
        free = self._free[key]
        client = free.pop()
        if not free:
            del self._free[key]
        try:
            yield client
        finally:
            self._free.setdefault(origin, []).append(client)

    async def aclose(self) -> None:
        for client in [*self._all, *([self._shared] if self._shared else [])]:
            await client.aclose()


def _origin(url: str) -> str:
    """`scheme://host:port` of an http(s) URL, cheaply: which connection a send may reuse."""
    return "/".join(url.split("/", 3)[:3])


class Dispatcher:
    def __init__(self, ctx: Context, config: DispatcherConfig) -> None:
        self._ctx = ctx
        self._config = config
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._results: asyncio.Queue[tuple[Message, Attempt]] = asyncio.Queue()
        self._lingering: list[tuple[Message, Attempt]] = []  # taken by the settler, not written
        self._sending: dict[asyncio.Task[None], str] = {}  # each send and its message id
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: _Clients | None = None
        self._stopping = False
        # The last claim took all it had room for (or had none): more may be due, so each
        # finished send wakes the claimer. Otherwise new messages wake it (poke, NOTIFY) and
        # retries come with the poll; a claim after each lone send would find nothing, and on
        # SQLite an empty claim costs more CPU (~1.3 ms) than the send did.
        self._more = False

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
            self._more = free <= 0 or len(claimed) >= free
            if not self._more or free <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._config.poll_interval)

    async def _deliver(self, out: Outgoing) -> None:
        try:
            assert self._clients is not None
            if out.message.channel == "email":
                attempt = await send_email(self._config.smtp, out.message, now=self._ctx.clock)
                self._results.put_nowait((out.message, attempt))
                return
            async with self._clients.take(_origin(out.message.url)) as client:
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
            if self._more:
                self._wake.set()  # a slot is free: look for more work

    async def _settle_loop(self) -> None:
        while True:
            self._lingering.append(await self._results.get())
            # A transaction for several results costs little more than for one: when sends
            # finish one by one, let the next few finish before writing (the messages stay
            # claimed meanwhile, so none is sent again).
            await asyncio.sleep(SETTLE_LINGER)
            batch = self._take_ready()
            if batch:
                await self._settle(batch)

    def _take_ready(self) -> list[tuple[Message, Attempt]]:
        ready, self._lingering = self._lingering, []
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
