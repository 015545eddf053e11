"""The review page: read a request with its context and history, and decide it.

A decision goes through `service.votes.vote`, as POST /v1/requests/{id}/decisions does.
The page listens to `/requests/{id}/stream`: it shows other reviewers' votes and the quorum's
progress as they come, and stops its buttons the moment someone else decides; a vote that
arrives late anyway is refused by the service and the page says so.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from ..domain.model import Choice, ContentType, Principal, ResponseType
from ..domain.voting import Ballot
from ..errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    SignoffError,
    ValidationFailed,
)
from ..service import assignments
from ..service import review as service
from ..service.context import Context
from ..service.votes import vote
from . import content as show
from .auth import Ctx, CurrentSession
from .forms import answer_of, as_sent, explain, fields_of
from .inbox import parse_filter, refused_batch
from .render import approvals_text, fragment, page, sentence, still_needed_text
from .routing import form_list, form_text, web_router

router = web_router()
KEEP_ALIVE_SECONDS = 15.0
_DONE = {
    "approved": "Approved.",
    "rejected": "Rejected.",
    "needs_changes": "Changes requested.",
}


async def _review(ctx: Context, actor: Principal, request_id: str) -> service.Review:
    try:
        return await service.review(ctx, actor, request_id)
    except Forbidden:
        # Someone outside the loop learns nothing, not even that the request exists.
        raise NotFound(f"no request with id {request_id!r}") from None


def _thread(review: service.Review) -> list[dict[str, Any]]:
    """Earlier rounds, each with the diff from its content to the next round's."""
    rounds = [*review.rounds, review.request]
    out = []
    for before, after in itertools.pairwise(rounds):
        out.append(
            {
                "request": before,
                "diff": show.diff(
                    show.as_text(before.content, before.content_type),
                    show.as_text(after.content, after.content_type),
                ),
                "next_id": after.id,
            }
        )
    return out


def _values(review: service.Review, actor: Principal, **extra: Any) -> dict[str, Any]:
    r = review.request
    analysis = r.ai_analysis or {}
    risk = analysis.get("risk_score")
    confidence = analysis.get("confidence")
    alert = bool(
        (isinstance(risk, int | float) and risk >= 0.7)
        or (isinstance(confidence, int | float) and confidence < 0.5)
        or analysis.get("flags")
    )
    values: dict[str, Any] = {
        "review": review,
        "r": r,
        "loop": review.loop,
        "my_vote": review.my_vote(actor),
        "analysis": analysis,
        "ai_alert": alert,
        "content_text": show.as_text(r.content, r.content_type),
        "markdown": show.markdown(r.content)
        if r.content_type is ContentType.markdown and isinstance(r.content, str)
        else None,
        "html": show.sanitized_html(r.content)
        if r.content_type is ContentType.html and isinstance(r.content, str)
        else None,
        "json_tree": show.json_tree(r.content) if r.content_type is ContentType.json else None,
        "image": show.image_url(r.content) if r.content_type is ContentType.image_url else None,
        "context_tree": show.json_tree(r.context) if isinstance(r.context, dict | list) else None,
        "thread": _thread(review),
        "fields": fields_of(r.response.schema) if r.response.type is ResponseType.form else [],
        "errors": {},
        "banner": None,
        "banner_kind": "warn",
        "draft": {},
        "preview": None,
        "in_session": False,
        "session_loop": "",
    }
    values.update(extra)
    return values


@router.get("/requests/{request_id}")
async def review_page(
    request: Request,
    request_id: str,
    ctx: Ctx,
    session: CurrentSession,
    done: str = "",
    in_session: bool = False,
    loop: str = "",
) -> Response:
    review = await _review(ctx, session.principal, request_id)
    banner = _DONE.get(done) or ("Your vote is recorded." if done == "voted" else None)
    values = _values(
        review,
        session.principal,
        banner=banner,
        banner_kind="ok",
        in_session=in_session,
        session_loop=loop,
    )
    return await page(request, "review.html", values)


def _field_errors(exc: ValidationFailed) -> dict[str, str]:
    """Service field paths as the page's fields: `body.response_data.amount` → `field.amount`."""
    out: dict[str, str] = {}
    for e in exc.errors:
        name = e.field.removeprefix("body.")
        if name.startswith("response_data."):
            name = "field." + name.removeprefix("response_data.").split(".")[0]
        out.setdefault(name, e.message)
    if not out:
        out["form"] = exc.detail
    return out


_SHOWN = ("form", "feedback", "edited_content", "response_data")  # where the page puts errors
REFUSED = "Your answer was not accepted: see what is marked below."


def answer_errors(exc: ValidationFailed, r: Any, draft: dict[str, Any]) -> dict[str, str]:
    """Why the service refused the answer, in the words of the page and next to the field it
    is about (the service speaks of `body.response_data`, the page of its choices and fields)."""
    errors = _field_errors(exc)
    about_answer = [k for k in errors if k == "response_data" or k.startswith("field.")]
    kind = r.response.type
    if about_answer and kind is ResponseType.choice:
        errors["response_data"] = (
            "Pick at least one of the choices."
            if r.response.multiple
            else "Pick one of the choices."
        )
    elif about_answer and kind is ResponseType.text:
        errors["response_data"] = "Write your answer."
    elif about_answer and kind is ResponseType.form and "response_data" in draft:
        worded = explain(r.response.schema, draft["response_data"])
        if worded:
            errors = {k: v for k, v in errors.items() if k not in about_answer} | worded
    if "feedback" in errors:
        errors["feedback"] = (
            "Write some feedback first: a rejection or a request for changes needs it."
        )
    for name in [k for k in errors if k not in _SHOWN and not k.startswith("field.")]:
        message = sentence(errors.pop(name))
        errors["form"] = f"{errors['form']} {message}" if "form" in errors else message
    return errors


async def _ballot(
    request: Request, r: Any, form_fields: list[Any], draft: dict[str, Any]
) -> Ballot:
    """The ballot the form makes; `draft` gets what was sent, to show again if it is refused."""
    form = await request.form()
    decision = await form_text(request, "decision")
    feedback = (await form_text(request, "feedback")).replace("\r\n", "\n").strip() or None
    draft.update(feedback=feedback or "", decision=decision)
    try:
        choice = Choice(decision)
    except ValueError:
        raise ValidationFailed.field(
            "decision", "choose approve, reject or request changes"
        ) from None
    edited: Any = None
    response_data: Any = None
    if choice is Choice.approve:
        kind = r.response.type
        if kind is ResponseType.approval and "edited_content" in form:
            text = await form_text(request, "edited_content")
            if "\r\n" not in show.as_text(r.content, r.content_type):
                text = text.replace("\r\n", "\n")  # browsers send a textarea's lines as CRLF
            draft["edited_content"] = text
            if text != show.as_text(r.content, r.content_type):
                edited = _parse_edit(text, r.content_type)
        elif kind is ResponseType.choice:
            chosen = await form_list(request, "choice")
            draft["choice"] = chosen
            response_data = chosen if r.response.multiple else (chosen[0] if chosen else None)
        elif kind is ResponseType.text:
            answer = (await form_text(request, "answer")).replace("\r\n", "\n")
            draft["answer"] = answer
            response_data = answer
        elif kind is ResponseType.form:
            filled, unreadable = answer_of(form_fields, form)
            draft["fields"] = as_sent(form_fields, form)
            if unreadable:
                raise ValidationFailed(
                    "some answers could not be read",
                    [FieldError(f"body.response_data.{k}", m) for k, m in unreadable.items()],
                )
            response_data = draft["response_data"] = filled
    hash_seen = await form_text(request, "content_hash") or None
    return Ballot(choice, feedback, edited, response_data, hash_seen)


def _parse_edit(text: str, content_type: ContentType) -> Any:
    if content_type is not ContentType.json:
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationFailed.field(
            "body.edited_content", f"This is not valid JSON: {exc}."
        ) from None


@router.post("/requests/{request_id}/decide")
async def decide(request: Request, request_id: str, ctx: Ctx, session: CurrentSession) -> Response:
    actor = session.principal
    review = await _review(ctx, actor, request_id)
    r = review.request
    in_session = await form_text(request, "in_session") == "1"
    session_loop = await form_text(request, "session_loop")
    fields = fields_of(r.response.schema) if r.response.type is ResponseType.form else []
    draft: dict[str, Any] = {}
    try:
        ballot = await _ballot(request, r, fields, draft)
        if ballot.edited_content is not None and await form_text(request, "step") != "confirm":
            # An edit is approved only after its diff was shown.
            preview = show.diff(show.as_text(r.content, r.content_type), draft["edited_content"])
            values = _values(
                review,
                actor,
                draft=draft,
                preview=preview,
                in_session=in_session,
                session_loop=session_loop,
            )
            return await page(request, "review.html", values)
        decided, _, _ = await vote(ctx, actor, request_id, ballot)
    except ValidationFailed as exc:
        values = _values(
            review,
            actor,
            draft=draft,
            errors=answer_errors(exc, r, draft),
            in_session=in_session,
            session_loop=session_loop,
            banner=REFUSED,
            banner_kind="bad",
        )
        return await page(request, "review.html", values, status=422)
    except (Conflict, Forbidden) as exc:
        fresh = await _review(ctx, actor, request_id)
        status = 409 if isinstance(exc, Conflict) else 403
        values = _values(
            fresh,
            actor,
            draft=draft,
            in_session=in_session,
            session_loop=session_loop,
            banner="Your vote was not recorded: " + exc.detail + ".",
            banner_kind="bad",
        )
        return await page(request, "review.html", values, status=status)
    done = decided.decision.value if decided.decision else "voted"
    if in_session:
        query = urlencode({"after": request_id, "loop": session_loop, "done": done})
        return RedirectResponse(f"/session?{query}", status_code=303)
    return RedirectResponse(f"/requests/{request_id}?done={done}", status_code=303)


@router.get("/session")
async def review_session(
    request: Request,
    ctx: Ctx,
    session: CurrentSession,
    loop: str = "",
    after: str = "",
    done: str = "",
) -> Response:
    """A review session: one request after the other, in inbox order, until none is left."""
    actor = session.principal
    where = parse_filter(loop, "", "")
    previous = None
    if after:
        try:
            previous = await service.get_state(ctx, actor, after)
        except SignoffError:
            previous = None
    following = await service.next_in_queue(ctx, actor, where, previous)
    if following is None:
        return await page(request, "session_done.html", {"done": _DONE.get(done)})
    query = urlencode({"in_session": 1, "loop": loop, **({"done": done} if done else {})})
    return RedirectResponse(f"/requests/{following}?{query}", status_code=303)


@router.post("/requests/{request_id}/claim")
async def claim(request_id: str, ctx: Ctx, session: CurrentSession) -> Response:
    """Called by the review page as it opens: the claim lease others see (issue 5, open loops)."""
    try:
        await assignments.claim(ctx, session.principal, request_id)
    except SignoffError as exc:  # held by someone else, decided meanwhile: the page says so
        return JSONResponse({"claimed": False, "detail": exc.detail}, status_code=409)
    return JSONResponse({"claimed": True})


@router.post("/requests/{request_id}/release")
async def release(request_id: str, ctx: Ctx, session: CurrentSession) -> Response:
    try:
        await assignments.release(ctx, session.principal, request_id)
    except SignoffError as exc:
        return JSONResponse({"released": False, "detail": exc.detail}, status_code=409)
    return JSONResponse({"released": True})


@router.post("/batch")
async def batch(request: Request, ctx: Ctx, session: CurrentSession) -> Response:
    ids = await form_list(request, "ids")
    decision = await form_text(request, "decision")
    feedback = (await form_text(request, "feedback")).strip() or None
    refused = {}
    if decision not in (Choice.approve.value, Choice.reject.value):
        refused["ids"] = "Choose approve or reject."
    elif not ids:
        refused["ids"] = "Select at least one request first."
    elif decision == Choice.reject.value and not feedback:
        refused["feedback"] = "Write some feedback first: a rejection needs it."
    if refused:
        return await refused_batch(request, ctx, session, ids, feedback or "", refused)
    # Each box says which request and the content hash its row showed: "req_…:sha256:…".
    selected = [(i.split(":", 1)[0], i.split(":", 1)[1] if ":" in i else None) for i in ids]
    results = await service.vote_on_each(
        ctx, session.principal, selected, Ballot(Choice(decision), feedback)
    )
    return await page(request, "batch.html", {"results": results, "decision": decision})


@router.get("/requests/{request_id}/stream")
async def request_stream(
    request_id: str, ctx: Ctx, session: CurrentSession, hash: str = ""
) -> Response:
    """Server-sent events for an open review page: `votes` as reviewers vote, `changed` if the
    content changes under the reviewer's eyes, `decided` once the request leaves `pending`."""
    await get_state_or_404(ctx, session.principal, request_id)
    return StreamingResponse(
        _request_events(ctx, session.principal, request_id, hash),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def get_state_or_404(ctx: Context, actor: Principal, request_id: str) -> Any:
    try:
        return await service.get_state(ctx, actor, request_id)
    except Forbidden:
        raise NotFound(f"no request with id {request_id!r}") from None


def _votes_event(r: Any, votes: list[Any]) -> str:
    """The quorum's progress and the votes list, rendered as the page renders them."""
    approvals = service.approvals(votes)
    data = {
        "progress": approvals_text(approvals, r.required_approvals),
        "still_needed": still_needed_text(approvals, r.required_approvals),
        "votes": fragment("_votes.html", {"votes": votes}),
    }
    return f"event: votes\ndata: {json.dumps(data)}\n\n"


async def _request_events(
    ctx: Context, actor: Principal, request_id: str, seen_hash: str
) -> AsyncIterator[str]:
    """`votes` on (re)connecting and whenever a vote is cast or voided; `changed` when the
    content changes; `decided` once the request leaves `pending`, and then the stream ends."""
    yield "retry: 2000\n\n"
    shown: object = None  # the votes the page shows, as last sent
    with ctx.notifier.subscribe(request_id) as changed:
        while True:
            changed.clear()
            r, votes = await service.standing(ctx, actor, request_id)
            now_shown = (r.required_approvals, [(v.id, v.voided_at is None) for v in votes])
            if now_shown != shown:
                yield _votes_event(r, votes)
                shown = now_shown
            if not r.is_pending:
                outcome = r.decision.value.replace("_", " ") if r.decision else r.status.value
                who = ", ".join(
                    str(d.get("email") or d.get("name") or d.get("type"))
                    for d in r.decided_by or []
                )
                data = json.dumps({"status": r.status.value, "outcome": outcome, "by": who})
                yield f"event: decided\ndata: {data}\n\n"
                return
            if seen_hash and r.content_hash != seen_hash:
                yield f"event: changed\ndata: {json.dumps({'content_hash': r.content_hash})}\n\n"
                seen_hash = r.content_hash
            try:
                await asyncio.wait_for(changed.wait(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
