"""Approval in one line: a decorator and a context manager that ask, wait, and go on only
when a person approved.

The request's Idempotency-Key is derived from what is asked (the loop, the function and its
arguments), so a process that dies while waiting and runs the same call again finds the same
request, and its decision, instead of asking twice.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

from ._async import AsyncClient
from ._base import looks_like_loop_id
from ._errors import not_approved
from ._models import Decision, Request
from ._sync import Client

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("signoff.client")
_SKIPPED = frozenset({"self", "cls"})  # a method's receiver is not part of what is asked


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no spaces; what JSON cannot hold becomes its repr."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=repr))


def derived_key(loop_id: str, what: str, payload: Any) -> str:
    digest = hashlib.sha256(f"{loop_id}\0{what}\0{canonical_json(payload)}".encode())
    return f"signoff-approval-{digest.hexdigest()}"


@dataclass(frozen=True)
class _Invocation:
    """One call of a decorated function, its arguments bound to their names."""

    fn: Callable[..., Any]
    bound: inspect.BoundArguments

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    @property
    def arguments(self) -> dict[str, Any]:
        return {k: v for k, v in self.bound.arguments.items() if k not in _SKIPPED}

    def default_content(self) -> dict[str, Any]:
        return {"function": self.name, "arguments": _jsonable(self.arguments)}

    def default_title(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        title = f"{self.fn.__qualname__}({shown})"
        return title if len(title) <= 200 else title[:199] + "…"

    def edited(self, content: Any) -> inspect.BoundArguments:
        """The call with the reviewer's edits to the default content. An argument the
        reviewer left as it was keeps its original (maybe not JSON) value."""
        edits = content.get("arguments") if isinstance(content, dict) else None
        if not isinstance(edits, dict):
            raise ValueError(
                f"the reviewer's edit of {self.name} is not of the form "
                '{"function": …, "arguments": {…}}; cannot call it with that'
            )
        unknown = set(edits) - set(self.arguments)
        if unknown:
            raise ValueError(f"the reviewer's edit names arguments {self.name} lacks: {unknown}")
        asked = self.default_content()["arguments"]
        merged = OrderedDict(self.bound.arguments)
        merged.update({k: v for k, v in edits.items() if v != asked.get(k)})
        return inspect.BoundArguments(self.bound.signature, merged)


@dataclass(frozen=True)
class _Ask:
    """How a decorator call becomes a request."""

    loop: str
    when: Callable[..., bool] | None
    describe: Callable[..., Any] | None
    key: str | Callable[..., str] | None
    fields: Mapping[str, Any]

    def needed(self, call: _Invocation) -> bool:
        return self.when is None or bool(self.when(**call.arguments))

    def request(self, call: _Invocation, loop_id: str) -> tuple[Any, dict[str, Any], str]:
        """The content, the other fields and the Idempotency-Key of the request for `call`."""
        arguments = call.arguments
        fields = {k: v(**arguments) if callable(v) else v for k, v in self.fields.items()}
        if self.describe is None:
            content: Any = call.default_content()
            fields.setdefault("title", call.default_title())
            fields.setdefault("content_type", "json")
        else:
            content = self.describe(**arguments)
        if isinstance(self.key, str):
            key = self.key
        elif self.key is not None:
            key = self.key(**arguments)
        else:
            key = derived_key(loop_id, call.name, arguments)
        return content, fields, key


def announce(request: Request, what: str) -> None:
    log.info("waiting for approval of %s: request %s, %s", what, request.id, request.review_url)


def _call_after(call: _Invocation, ask: _Ask, decision: Decision) -> inspect.BoundArguments:
    """Raise unless approved; else the call to make: with the reviewer's edits, when the
    content was the call's own arguments."""
    if not decision.approved:
        raise not_approved(decision)
    if ask.describe is None and decision.edited:
        return call.edited(decision.content)
    return call.bound


def require_approval(
    loop: str,
    *,
    when: Callable[..., bool] | None = None,
    describe: Callable[..., Any] | None = None,
    client: Client | AsyncClient | None = None,
    timeout: float | None = None,
    key: str | Callable[..., str] | None = None,
    **fields: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function only once a reviewer of `loop` (an id or a name) approved.

        @require_approval(loop="refunds", when=lambda amount, **_: amount > 100)
        def refund(order: int, amount: int) -> None: ...

    Each call for which `when(**arguments)` is true (all calls without `when`) creates a
    request and waits up to `timeout` seconds (None: as long as it takes; then WaitTimeout).
    Approved: the function runs, with the arguments as the reviewer edited them. Else it
    raises Rejected, ChangesRequested, Expired or Cancelled, which carry the feedback.

    The request's content is `{"function": …, "arguments": {…}}` as JSON, unless `describe`
    (given the arguments by name) answers another; other request fields (`title`, `priority`,
    `metadata`, `context`, `timeout_seconds`, …) go in `fields`, each a value or a function of
    the arguments. `key` names the call (default: derived from the loop, the function and its
    arguments): the same call made again finds the same request and its decision.

    Works on `async def` functions too (with an AsyncClient). Without `client`, one is made
    from SIGNOFF_URL and SIGNOFF_API_KEY for each call.
    """
    ask = _Ask(loop, when, describe, key, fields)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        if inspect.iscoroutinefunction(fn):
            if isinstance(client, Client):
                raise TypeError(f"{fn.__qualname__} is async: give it an AsyncClient")
            return cast(Callable[P, R], _async_wrapper(fn, signature, ask, client, timeout))
        if isinstance(client, AsyncClient):
            raise TypeError(f"{fn.__qualname__} is not async: give it a Client")

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            call = _Invocation(fn, signature.bind(*args, **kwargs))
            call.bound.apply_defaults()
            if not ask.needed(call):
                return fn(*args, **kwargs)
            with SyncSession(client) as signoff:
                loop_id = loop_id_of(ask.loop, signoff)
                content, request_fields, idem = ask.request(call, loop_id)
                request = signoff.create_request(
                    loop_id, content, **request_fields, idempotency_key=idem
                )
                announce(request, call.name)
                decision = signoff.wait(request.id, timeout=timeout)
            bound = _call_after(call, ask, decision)
            return fn(*bound.args, **bound.kwargs)

        return wrapper

    return decorate


def _async_wrapper(
    fn: Callable[..., Awaitable[Any]],
    signature: inspect.Signature,
    ask: _Ask,
    client: AsyncClient | None,
    timeout: float | None,
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = _Invocation(fn, signature.bind(*args, **kwargs))
        call.bound.apply_defaults()
        if not ask.needed(call):
            return await fn(*args, **kwargs)
        async with AsyncSession(client) as signoff:
            loop_id = await aloop_id_of(ask.loop, signoff)
            content, request_fields, idem = ask.request(call, loop_id)
            request = await signoff.create_request(
                loop_id, content, **request_fields, idempotency_key=idem
            )
            announce(request, call.name)
            decision = await signoff.wait(request.id, timeout=timeout)
        bound = _call_after(call, ask, decision)
        return await fn(*bound.args, **bound.kwargs)

    return wrapper


def approval(
    loop: str,
    content: Any,
    *,
    client: Client | AsyncClient | None = None,
    timeout: float | None = None,
    key: str | None = None,
    **fields: Any,
) -> Approval:
    """Go on past the `with` only once a reviewer of `loop` approved `content`.

        with approval("deploys", f"Deploy {version} to production", title="Deploy") as ok:
            deploy(version)          # ok.content: what was approved, edits included

        async with approval("deploys", plan, client=async_client) as ok: ...

    Entering creates the request and waits up to `timeout` seconds; it raises Rejected,
    ChangesRequested, Expired, Cancelled (the body does not run) or WaitTimeout. The
    Idempotency-Key is derived from the loop and the request's fields unless `key` is given,
    so a rerun after a crash waits on the same request. Other request fields (`title`,
    `context`, `metadata`, `priority`, …) go in `fields`.
    """
    return Approval(loop, content, client=client, timeout=timeout, key=key, **fields)


class Approval:
    """What `approval(...)` answers: `request` and `decision` are set once it is entered."""

    def __init__(
        self,
        loop: str,
        content: Any,
        *,
        client: Client | AsyncClient | None = None,
        timeout: float | None = None,
        key: str | None = None,
        **fields: Any,
    ) -> None:
        self.loop = loop
        self.content = content
        self.client = client
        self.timeout = timeout
        self.key = key
        self.fields = fields
        self.request: Request | None = None
        self.decision: Decision | None = None

    def _idempotency_key(self, loop_id: str) -> str:
        return self.key or derived_key(loop_id, "approval", [self.content, self.fields])

    def _done(self, request: Request, decision: Decision) -> Decision:
        self.request, self.decision = request, decision
        if not decision.approved:
            raise not_approved(decision)
        return decision

    def __enter__(self) -> Decision:
        if isinstance(self.client, AsyncClient):
            raise TypeError("an AsyncClient needs `async with approval(...)`")
        with SyncSession(self.client) as signoff:
            loop_id = loop_id_of(self.loop, signoff)
            key = self._idempotency_key(loop_id)
            request = signoff.create_request(
                loop_id, self.content, **self.fields, idempotency_key=key
            )
            announce(request, repr(request.title or self.content)[:80])
            return self._done(request, signoff.wait(request.id, timeout=self.timeout))

    def __exit__(self, *_: object) -> None:
        return None

    async def __aenter__(self) -> Decision:
        if isinstance(self.client, Client):
            raise TypeError("a Client needs `with approval(...)`; `async with` needs AsyncClient")
        async with AsyncSession(self.client) as signoff:
            loop_id = await aloop_id_of(self.loop, signoff)
            key = self._idempotency_key(loop_id)
            request = await signoff.create_request(
                loop_id, self.content, **self.fields, idempotency_key=key
            )
            announce(request, repr(request.title or self.content)[:80])
            return self._done(request, await signoff.wait(request.id, timeout=self.timeout))

    async def __aexit__(self, *_: object) -> None:
        return None


# The client to use: the one given, or one from the environment for the time of one call.


class SyncSession:
    def __init__(self, client: Client | AsyncClient | None) -> None:
        assert not isinstance(client, AsyncClient)
        self.given = client
        self.client: Client | None = None

    def __enter__(self) -> Client:
        self.client = self.given or Client()
        return self.client

    def __exit__(self, *_: object) -> None:
        if self.given is None and self.client is not None:
            self.client.close()


class AsyncSession:
    def __init__(self, client: Client | AsyncClient | None) -> None:
        assert not isinstance(client, Client)
        self.given = client
        self.client: AsyncClient | None = None

    async def __aenter__(self) -> AsyncClient:
        self.client = self.given or AsyncClient()
        return self.client

    async def __aexit__(self, *_: object) -> None:
        if self.given is None and self.client is not None:
            await self.client.aclose()


def loop_id_of(loop: str, client: Client) -> str:
    return loop if looks_like_loop_id(loop) else client.find_loop(loop).id


async def aloop_id_of(loop: str, client: AsyncClient) -> str:
    return loop if looks_like_loop_id(loop) else (await client.find_loop(loop)).id
