"""A real HTTP receiver on loopback, a bounded wait, an SSE reader and API shortcuts.

The receiver is `asyncio.start_server` with just enough HTTP/1.1 (keep-alive, Content-Length
bodies) for what Signoff's sender does; each answer is scripted per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

import httpx

from tests.conftest import Api

T = TypeVar("T")
WAIT = 10.0  # the longest any bounded wait in these tests may take


@dataclass(frozen=True)
class Received:
    """One HTTP request as the receiver got it; header names are lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def type(self) -> str:
        return str(self.json["type"])


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request and answers as scripted."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: deque[Reply] = deque()
        self._arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = asyncio.Event()
        self.port = 0

    async def start(self, port: int = 0) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and end every connection (a slow answer is cut short)."""
        if self._server is not None:
            self._server.close()
        self._closing.set()
        for writer in list(self._writers):
            writer.close()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=WAIT)
        if self._server is not None:
            await self._server.wait_closed()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these, then 200 again."""
        self._script.extend(replies)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(
        self,
        count: int = 1,
        where: Callable[[Received], bool] = lambda _: True,
        *,
        timeout: float = WAIT,
    ) -> list[Received]:
        """At least `count` received requests that match `where`, waiting up to `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [r for r in self.received if where(r)]
            if len(found) >= count:
                return found
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                got = [(r.path, r.headers.get("webhook-id"), r.body[:80]) for r in self.received]
                raise AssertionError(f"waited {timeout} s for {count}, have {len(found)}: {got}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        try:
            while request := await self._read(reader):
                self.received.append(request)
                self._arrived.set()
                reply = self._script.popleft() if self._script else Reply()
                if reply.delay:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), reply.delay)
                if self._closing.is_set() or writer.is_closing():
                    break
                writer.write(_response(reply))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None  # the client closed a kept-alive connection
        start, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        method, path, _ = start.split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Received(method, path, headers, body)


def at(path: str) -> Callable[[Received], bool]:
    """A `where` for Receiver.wait_for: what arrived at `path`."""
    return lambda received: received.path == path


def _response(reply: Reply) -> bytes:
    reason = HTTPStatus(reply.status).phrase
    head = [f"HTTP/1.1 {reply.status} {reason}", f"content-length: {len(reply.body)}"]
    head += ["content-type: text/plain", *(f"{k}: {v}" for k, v in reply.headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + reply.body


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused), free to bind later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(check: Callable[[], Awaitable[T | None]], what: str, *, timeout: float = WAIT) -> T:
    """Poll `check` until it answers something truthy; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.05)


# The API, as a workflow and an admin use it


async def make_loop(api: Api, reviewers: list[str], name: str = "payments") -> str:
    r = await api.as_("admin", "POST", "/v1/loops", json={"name": name, "reviewers": reviewers})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def make_request(api: Api, loop_id: str, who: str = "requester", **body: Any) -> str:
    r = await api.as_(
        who, "POST", f"/v1/loops/{loop_id}/requests", json={"content": "Refund $120", **body}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def decide(api: Api, who: str, request_id: str, **ballot: Any) -> dict[str, Any]:
    body = {"decision": "approve", **ballot}
    r = await api.as_(who, "POST", f"/v1/requests/{request_id}/decisions", json=body)
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def make_endpoint(api: Api, url: str, who: str = "admin", **body: Any) -> dict[str, Any]:
    r = await api.as_(who, "POST", "/v1/webhooks", json={"url": url, **body})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def send_test(api: Api, endpoint_id: str) -> None:
    r = await api.as_("admin", "POST", f"/v1/webhooks/{endpoint_id}/test")
    assert r.status_code == 202, r.text


async def messages(api: Api, endpoint_id: str) -> list[dict[str, Any]]:
    """The endpoint's delivery log, oldest first."""
    r = await api.as_("admin", "GET", f"/v1/webhooks/{endpoint_id}/deliveries?limit=500")
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["data"]))


async def message(api: Api, endpoint_id: str, message_id: str) -> dict[str, Any]:
    r = await api.as_("admin", "GET", f"/v1/webhooks/{endpoint_id}/deliveries/{message_id}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def settled(
    api: Api, endpoint_id: str, message_id: str, status: str, *, timeout: float = WAIT
) -> dict[str, Any]:
    """The message once its status is `status`."""

    async def check() -> dict[str, Any] | None:
        found = await message(api, endpoint_id, message_id)
        return found if found["status"] == status else None

    return await until(check, f"message {message_id} to be {status}", timeout=timeout)


async def only_message(api: Api, endpoint_id: str) -> dict[str, Any]:
    [found] = await messages(api, endpoint_id)
    return found


# Server-sent events


@dataclass(frozen=True)
class Frame:
    id: int
    type: str
    data: dict[str, Any]


async def frames(response: httpx.Response) -> AsyncGenerator[Frame, None]:
    """The events of an SSE stream (comments and `retry:` lines skipped)."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield Frame(int(fields["id"]), fields["event"], json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class Stream:
    """An open event stream, read a frame at a time across several waits."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._frames = frames(response)

    async def read_until(
        self, last: Callable[[Frame], bool], *, timeout: float = WAIT
    ) -> list[Frame]:
        """Frames up to and including the first for which `last` is true."""
        got: list[Frame] = []
        async with asyncio.timeout(timeout):
            async for frame in self._frames:
                got.append(frame)
                if last(frame):
                    return got
        raise AssertionError(f"the stream ended before the last frame; got {got}")

    async def close(self) -> None:
        await self._frames.aclose()
        await self.response.aclose()
