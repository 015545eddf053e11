"""The MCP tools, written once against the SDK's `AsyncClient`: whatever the transport, every
call goes through the REST API, its authentication and its policy checks.

`build_server(connect, wait_seconds)` answers an `MCPServer`; `connect(ctx)` opens the client
a tool call uses (one shared client over stdio; over HTTP, one per call with the caller's key).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from .. import __version__
from ..client import (
    AsyncClient,
    ConnectionFailed,
    Decision,
    Forbidden,
    InvalidTransition,
    NotFound,
    Request,
    SignoffError,
    Unauthenticated,
    ValidationFailed,
    WaitTimeout,
)
from . import DEFAULT_WAIT_SECONDS

PROGRESS_EVERY = 10.0  # while waiting, a progress notification this often (if asked for)
PROGRESS_COUNT = 5  # ... or this many over the wait, if that is more often (at most each second)

Connect = Callable[[Context], AbstractAsyncContextManager[AsyncClient]]

INSTRUCTIONS = """\
Signoff puts a person in the loop: before an action that needs a human's approval (sending a
message, spending money, changing production, publishing), ask with `request_approval` and
act only on `approved`. `list_loops` shows the review queues you can ask in. A decision can
take longer than one tool call: when a result says `pending`, call `get_decision` with its
`request_id` until it is decided. Never treat `pending`, `rejected`, `needs_changes`,
`timed_out` or `cancelled` as permission."""


class Outcome(BaseModel):
    """Where a request stands: what `request_approval`, `get_decision` and `cancel_request`
    answer."""

    request_id: str
    loop_id: str
    status: Literal["pending", "completed", "timed_out", "cancelled"]
    decision: Literal["approved", "rejected", "needs_changes"] | None = Field(
        description="Set once status is completed."
    )
    feedback: str | None = Field(description="What the reviewers wrote.")
    content: Any = Field(
        description="The final content: the reviewer's edit when `edited`, else what was asked."
    )
    edited: bool
    response_data: Any = Field(
        description="The reviewer's answer for choice, text and form requests."
    )
    review_url: str = Field(description="Where a person reviews the request.")
    next_step: str = Field(description="What to do now.")


class LoopSummary(BaseModel):
    id: str
    name: str
    description: str
    reviewers: int = Field(description="How many people review in this loop.")
    required_approvals: int


class Loops(BaseModel):
    loops: list[LoopSummary]


LoopArg = Annotated[
    str,
    Field(description="The loop (review queue) to ask in: its name or its id (loop_…)."),
]
WaitArg = Annotated[
    float | None,
    Field(
        description="Seconds to wait for a decision; 0 answers at once. Default, and most: "
        "the wait named in this tool's description.",
        ge=0,
    ),
]
RequestIdArg = Annotated[
    str, Field(description="The request_id a previous request_approval answered (req_…).")
]


def build_server(connect: Connect, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> MCPServer:
    """The Signoff MCP server; each tool waits at most `wait_seconds` for a decision."""
    server: MCPServer = MCPServer(
        "signoff", instructions=INSTRUCTIONS, log_level="WARNING", version=__version__
    )
    bound = float(wait_seconds)

    @server.tool(
        description=f"""Ask a person to approve something before you do it, and wait for the
answer (up to {bound:g} seconds per call).

Call it before any action that needs human sign-off; put exactly what you will do in
`content` (the text, or a JSON object), a short `title`, and in `context` what the reviewer
needs to know to decide. The result has `status` and `decision`:
- approved: go ahead, using the returned `content` (the reviewer may have edited it).
- rejected: do not do it; `feedback` says why. Tell the user.
- needs_changes: redo the work following `feedback`, then ask again with the new content and
  `previous_request_id` set to this request_id.
- pending: nobody decided yet; call get_decision with the `request_id` (again and again)
  until it is decided. Do not act meanwhile. `review_url` is where a person can decide.
- timed_out or cancelled: nobody approved it; do not act.
Calling again with the same arguments returns the same request (a retry never asks twice).""",
        annotations=ToolAnnotations(
            title="Ask a person for approval",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def request_approval(
        loop: LoopArg,
        content: Annotated[
            str | dict[str, Any] | list[Any],
            Field(description="What the person approves: text, or JSON (an object or list)."),
        ],
        ctx: Context,
        title: Annotated[str | None, Field(description="One line the reviewer sees.")] = None,
        context: Annotated[
            str | dict[str, Any] | None,
            Field(description="Why you ask and what the reviewer needs to know to decide."),
        ] = None,
        metadata: Annotated[
            dict[str, Any] | None,
            Field(description="Your own data, echoed back with the decision (ids, emails)."),
        ] = None,
        priority: Annotated[
            Literal["low", "normal", "high", "urgent"] | None,
            Field(description="How urgent it is for the reviewer; default normal."),
        ] = None,
        content_type: Annotated[
            Literal["text", "markdown", "json", "html", "image_url"] | None,
            Field(description="How to show `content`; default text, or json for JSON."),
        ] = None,
        previous_request_id: Annotated[
            str | None,
            Field(
                description="When redoing work after needs_changes or a rejection: the "
                "request_id of the earlier request, so the reviewer sees both rounds."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, Outcome]:
        fields: dict[str, Any] = {
            "title": title,
            "context": context,
            "metadata": metadata,
            "priority": priority,
            "content_type": content_type,
            "previous_request_id": previous_request_id,
        }
        async with _calling(connect, ctx) as client:
            try:
                found = await client.find_loop(loop)
            except NotFound as error:
                raise ToolError(f"{error.detail}. Call list_loops for the loops.") from error
            created = await client.create_request(
                found.id, content, **fields, idempotency_key=_key("ask", found.id, content, fields)
            )
            decision = await _await(client, created, bound, ctx)
        return _result(created, decision)

    @server.tool(
        description=f"""The decision on a request made with request_approval. Waits up to
`wait_seconds` (at most {bound:g}, the default) for it, answering the moment a person decides.

The result is as request_approval's: act only on `approved` (with the returned `content`); on
`pending` call get_decision again; on `rejected` or `needs_changes` follow `feedback`.""",
        annotations=ToolAnnotations(
            title="Read (or wait for) a decision", read_only_hint=True, open_world_hint=False
        ),
    )
    async def get_decision(
        request_id: RequestIdArg,
        ctx: Context,
        wait_seconds: WaitArg = None,
    ) -> Annotated[CallToolResult, Outcome]:
        seconds = bound if wait_seconds is None else min(float(wait_seconds), bound)
        async with _calling(connect, ctx) as client:
            request = await client.get_request(request_id)
            decision = await _await(client, request, seconds, ctx)
        return _result(request, decision)

    @server.tool(
        description="""The loops (review queues) you can ask in, with their names and ids; pass
either as `loop` to request_approval.""",
        annotations=ToolAnnotations(
            title="List review loops", read_only_hint=True, open_world_hint=False
        ),
    )
    async def list_loops(ctx: Context) -> Annotated[CallToolResult, Loops]:
        async with _calling(connect, ctx) as client:
            found = [loop async for loop in client.iter_loops()]
        loops = Loops(
            loops=[
                LoopSummary(
                    id=loop.id,
                    name=loop.name,
                    description=loop.description,
                    reviewers=len(loop.reviewers),
                    required_approvals=loop.required_approvals,
                )
                for loop in found
            ]
        )
        lines = [
            f"- {loop.name} (id {loop.id}): {loop.description or 'no description'}; "
            f"{loop.reviewers} reviewer(s), {loop.required_approvals} approval(s) needed"
            for loop in loops.loops
        ]
        text = "\n".join(lines) if lines else "There are no loops yet: an admin creates them."
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=loops.model_dump(mode="json"),
        )

    @server.tool(
        description="""Withdraw a pending request made with request_approval, when you no
longer need the approval (the user changed their mind, the action is moot). Reviewers then
cannot decide it any more. Fails if a person already decided it.""",
        annotations=ToolAnnotations(
            title="Cancel an approval request",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
    async def cancel_request(
        request_id: RequestIdArg,
        ctx: Context,
        reason: Annotated[
            str | None, Field(description="Why, for the reviewers and the audit log.")
        ] = None,
    ) -> Annotated[CallToolResult, Outcome]:
        async with _calling(connect, ctx) as client:
            try:
                key = _key("cancel", request_id, reason)
                request = await client.cancel_request(
                    request_id, reason=reason, idempotency_key=key
                )
            except InvalidTransition:
                request = await client.get_request(request_id)
                if request.status != "cancelled":
                    raise ToolError(
                        f"request {request_id} cannot be cancelled: it already ended "
                        f"({_state(request.status, request.decision)})."
                    ) from None
        return _result(request, None)

    return server


@asynccontextmanager
async def _calling(connect: Connect, ctx: Context) -> AsyncIterator[AsyncClient]:
    """The client for one tool call; the SDK's errors become messages a model can act on (a
    tool error, not a crash)."""
    try:
        async with connect(ctx) as client:
            yield client
    except SignoffError as error:
        raise ToolError(_explain(error)) from error


def _explain(error: SignoffError) -> str:
    if isinstance(error, Unauthenticated):
        return f"Signoff refused the API key: {error.detail}. Check the key this server uses."
    if isinstance(error, Forbidden):
        return f"Signoff does not allow this with this API key: {error.detail}."
    if isinstance(error, NotFound):
        return f"{error.detail}."
    if isinstance(error, ValidationFailed) and error.errors:
        fields = "; ".join(f"{e.field.removeprefix('body.')}: {e.message}" for e in error.errors)
        return f"Signoff refused the arguments: {fields}."
    if isinstance(error, ConnectionFailed):
        return f"Signoff could not be reached: {error.detail}. Try again later."
    return f"Signoff answered: {error.detail}"


async def _await(
    client: AsyncClient, request: Request, seconds: float, ctx: Context
) -> Decision | None:
    """The decision on `request` once it left pending within `seconds`, else None. Reports
    progress every few seconds to a client that asked for it."""
    if request.status != "pending":
        return await client.get_response(request.id)
    start = time.monotonic()
    deadline = start + seconds
    every = min(PROGRESS_EVERY, max(1.0, seconds / PROGRESS_COUNT))
    while True:
        step = max(0.0, min(every, deadline - time.monotonic()))
        try:
            return await client.wait(request.id, timeout=step)
        except WaitTimeout:
            if time.monotonic() >= deadline:
                return None
            waited = time.monotonic() - start
            await ctx.report_progress(waited, seconds, "waiting for a reviewer's decision")


def _result(request: Request, decision: Decision | None) -> CallToolResult:
    outcome = _outcome(request, decision)
    return CallToolResult(
        content=[TextContent(type="text", text=_text(outcome))],
        structured_content=outcome.model_dump(mode="json"),
    )


def _outcome(request: Request, decision: Decision | None) -> Outcome:
    if decision is None:  # still pending, or an answer (cancel) that is the request itself
        status, verdict = request.status, request.decision
        feedback, content, edited = request.feedback, request.final_content, request.edited
        response_data = request.response_data
        if content is None:
            content = request.content
    else:
        status, verdict = decision.status, decision.decision
        feedback, content, edited = decision.feedback, decision.content, decision.edited
        response_data = decision.response_data
    return Outcome(
        request_id=request.id,
        loop_id=request.loop_id,
        status=status,
        decision=verdict,
        feedback=feedback,
        content=content,
        edited=edited,
        response_data=response_data,
        review_url=request.review_url,
        next_step=_next_step(request.id, status, verdict),
    )


def _next_step(request_id: str, status: str, decision: str | None) -> str:
    if status == "pending":
        return (
            f"No decision yet; a person may take minutes or hours. Do not act yet: call "
            f"get_decision with request_id {request_id} to keep waiting."
        )
    if decision == "approved":
        return "Approved: go ahead, using `content` (the reviewer may have edited it)."
    if decision == "rejected":
        return "Rejected: do not do it. Tell the user, with the reviewer's feedback."
    if decision == "needs_changes":
        return (
            "Changes requested: redo the work following `feedback`, then call request_approval "
            f"again with the new content and previous_request_id {request_id}."
        )
    if status == "timed_out":
        return "Timed out without a decision: nobody approved it, so do not act."
    return "Cancelled: nobody will decide it; do not act."


def _state(status: str, decision: str | None) -> str:
    return decision or status


def _text(outcome: Outcome) -> str:
    lines = [
        f"Request {outcome.request_id}: {_state(outcome.status, outcome.decision).upper()}.",
        outcome.next_step,
    ]
    if outcome.feedback:
        lines.append(f"Feedback: {outcome.feedback}")
    if outcome.status == "completed":
        shown = outcome.content if isinstance(outcome.content, str) else _json(outcome.content)
        label = "Final content (edited by the reviewer)" if outcome.edited else "Final content"
        lines.append(f"{label}: {shown}")
        if outcome.response_data is not None:
            lines.append(f"Response: {_json(outcome.response_data)}")
    lines.append(f"Review page: {outcome.review_url}")
    return "\n".join(lines)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _key(*call: Any) -> str:
    """The Idempotency-Key of a tool call, from what it asks: the same call made again (a
    client's retry) gets the first call's answer, instead of asking twice."""
    asked = json.dumps(call, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "signoff-mcp-" + hashlib.sha256(asked.encode()).hexdigest()
