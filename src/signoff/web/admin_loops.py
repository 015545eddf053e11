"""Admin pages for loops: the list, a new loop, and a loop's own page.

A loop's page edits its reviewers and policy, shows in words how it routes requests (assignment,
rules, stages, clocks) and edits those too, the rules, stages, reminders and escalation ladder as
JSON in the shape the API takes. "Try a request" runs the API's dry run on the loop: nothing is
created. What the page saves or refuses is what `PATCH /v1/loops/{id}` would: the body goes
through the API's own LoopPatch (`ApiShapes`), then `service.loops.update_loop`, in one
transaction, so nothing is saved when anything is wrong.

The form sends a JSON part only when it differs from the one the page showed (kept in a hidden
`<part>_was` field): a part left alone is not written, even if the API changed it meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from ..domain.model import AssignmentStrategy, ContentType, Loop, Priority, TimeoutAction, User
from ..errors import Conflict, ValidationFailed
from ..service import loops as loop_service
from ..service import simulation as simulation_service
from ..service import users as user_service
from ..service.loops import LoopDraft
from . import loop_text
from .api_shapes import api_shapes
from .auth import AdminSession, Ctx
from .loop_text import Names
from .render import duration, page
from .routing import form_list, form_text, web_router

router = web_router()
MAX_ROWS = 500  # the list shows this many; more is a job for the API

# The parts edited as JSON, and the word for one item of each (for error messages).
PARTS = {"rules": "rule", "stages": "stage", "reminders": "reminder", "escalation": "step"}
BASICS = (
    "name",
    "description",
    "reviewers",
    "required_approvals",
    "default_timeout_minutes",
    "allow_self_approval",
    "allow_timeout_approval",
)
ROUTING = ("assignment", "default_timeout_action", "pickup_timeout_minutes", *PARTS)
# Fields sent only when changed from what the page showed (kept in a hidden `<name>_was`).
KEPT = ("default_timeout_minutes", "pickup_timeout_minutes", *PARTS)
# Fields whose text the page shows again as sent when a save is refused.
TYPED = ("required_approvals", "default_timeout_minutes", *ROUTING)
# The API's field where the form asks for minutes.
_FORM_FIELD = {
    "default_timeout_seconds": "default_timeout_minutes",
    "pickup_timeout_seconds": "pickup_timeout_minutes",
}
# "Try a request": the fields of a request the rules can read.
TRIAL = ("title", "content", "content_type", "priority", "requested_by", "metadata", "ai_analysis")
_TRIAL_DEFAULTS = {
    "title": "",
    "content": "",
    "content_type": ContentType.text.value,
    "priority": Priority.normal.value,
    "requested_by": "",
    "metadata": "{}",
    "ai_analysis": "{}",
}

Errors = dict[str, list[str]]
# What a refused save's message calls each field.
LABELS = {
    "form": "the loop",
    "name": "the name",
    "description": "the description",
    "reviewers": "the reviewers",
    "required_approvals": "the approvals needed",
    "default_timeout_minutes": "the default timeout",
    "assignment": "the assignment",
    "default_timeout_action": "what a timeout does",
    "pickup_timeout_minutes": "the pickup clock",
    "rules": "the rules",
    "stages": "the stages",
    "reminders": "the reminders",
    "escalation": "the escalation",
}


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _field_errors(exc: ValidationFailed, fields: Collection[str]) -> Errors:
    """The API's field paths (`body.rules.0.when`) as the form's fields, each message saying
    where inside a JSON field it points (`rule 1, when: …`)."""
    errors: Errors = {}
    for e in exc.errors:
        head, *rest = e.field.removeprefix("body.").split(".")
        head = _FORM_FIELD.get(head, head)
        if head not in fields:
            _add(errors, "form", f"{e.field}: {e.message}")
            continue
        where = ""
        if rest and head in PARTS and rest[0].isdigit():
            where = ", ".join([f"{PARTS[head]} {int(rest[0]) + 1}", *rest[1:]])
        elif rest:
            where = ".".join(rest)
        _add(errors, head, f"{where}: {e.message}" if where else e.message)
    return errors or {"form": [exc.detail]}


def _number(
    form: FormData, name: str, low: int, high: int, errors: Errors, *, optional: bool = False
) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw and optional:
        return None
    try:
        value = int(raw)
    except ValueError:
        _add(errors, name, "give a whole number")
        return None
    if not low <= value <= high:
        _add(errors, name, f"must be between {low} and {high}")
        return None
    return value


def _basics(form: FormData, errors: Errors) -> dict[str, Any]:
    """The loop's own fields as the form holds them, under the API's names."""
    name = str(form.get("name") or "").strip()
    description = str(form.get("description") or "").strip()
    if not name:
        _add(errors, "name", "give the loop a name")
    elif len(name) > 200:
        _add(errors, "name", "at most 200 characters")
    if len(description) > 10_000:
        _add(errors, "description", "at most 10,000 characters")
    approvals = _number(form, "required_approvals", 1, 100, errors)
    body = {
        "name": name,
        "description": description,
        "reviewers": [v for v in form.getlist("reviewers") if isinstance(v, str)],
        "required_approvals": approvals or 1,
        "allow_self_approval": form.get("allow_self_approval") == "1",
        "allow_timeout_approval": form.get("allow_timeout_approval") == "1",
    }
    body.update(_seconds(form, "default_timeout_minutes", "default_timeout_seconds", errors))
    return body


def _unchanged(form: FormData, name: str) -> bool:
    """Whether a field still holds what the page showed (its hidden `<name>_was`)."""
    was = form.get(f"{name}_was")
    return was is not None and str(form.get(name) or "").strip() == str(was).strip()


def _seconds(form: FormData, name: str, field: str, errors: Errors) -> dict[str, Any]:
    """A duration asked in minutes, as `field` in seconds; nothing if left as shown (a timeout
    the API set to 90 s shows as 1.5 min, and saving the form must not round it)."""
    if name not in form or _unchanged(form, name):
        return {}
    minutes = _number(form, name, 1, 365 * 24 * 60, errors, optional=True)
    return {field: minutes * 60 if minutes else None}


def _minutes(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return str(seconds // 60) if seconds % 60 == 0 else f"{seconds / 60:.2f}".rstrip("0")


def _json_part(text: str) -> Any:
    return json.loads(text) if text.strip() else []  # emptied: none


def _routing(form: FormData, errors: Errors) -> dict[str, Any]:
    """How the loop routes requests, as far as the form sent it and changed it."""
    body: dict[str, Any] = {}
    for name in ("assignment", "default_timeout_action"):
        if name in form:
            body[name] = str(form.get(name))
    body.update(_seconds(form, "pickup_timeout_minutes", "pickup_timeout_seconds", errors))
    for part in PARTS:
        if part not in form:
            continue
        try:
            value = _json_part(str(form.get(part)))
        except ValueError as exc:
            _add(errors, part, f"not valid JSON: {exc}")
            continue
        try:
            shown = _json_part(str(form.get(f"{part}_was")))
        except ValueError:
            shown = None  # not what this page wrote: take the part as changed
        if f"{part}_was" not in form or value != shown:
            body[part] = value
    return body


def _part_texts(loop: Loop) -> dict[str, str]:
    """The loop's parts as JSON text, in the shape PATCH /v1/loops/{id} takes."""
    values = {
        "rules": [r.to_json() for r in loop.rules],
        "stages": [
            {k: v for k, v in s.to_json().items() if v is not None and v != []} for s in loop.stages
        ],
        "reminders": list(loop.reminders),
        "escalation": [s.to_json() for s in loop.escalation],
    }
    return {part: _pretty(value) for part, value in values.items()}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) if value else "[]"


# Pages


async def _people(ctx: Any) -> list[User]:
    return await user_service.list_users(ctx, None, MAX_ROWS)


@router.get("/admin/loops")
async def loops_page(
    request: Request, ctx: Ctx, session: AdminSession, saved: str = ""
) -> Response:
    loops = await loop_service.list_loops(ctx, None, MAX_ROWS)
    users = {u.id: u for u in await _people(ctx)}
    values = {"loops": loops, "users": users, "saved": saved, "section": "loops"}
    return await page(request, "admin_loops.html", values)


_NEW_LOOP = LoopDraft(name="")


async def _draft_as_sent(request: Request, base: LoopDraft) -> LoopDraft:
    """What the form held, for showing it again next to its errors."""
    return replace(
        base,
        name=await form_text(request, "name"),
        description=await form_text(request, "description"),
        reviewers=tuple(await form_list(request, "reviewers")),
        allow_self_approval=await form_text(request, "allow_self_approval") == "1",
        allow_timeout_approval=await form_text(request, "allow_timeout_approval") == "1",
    )


def _as_draft(loop: Loop) -> LoopDraft:
    return LoopDraft(
        name=loop.name,
        description=loop.description,
        reviewers=loop.reviewers,
        required_approvals=loop.required_approvals,
        allow_self_approval=loop.allow_self_approval,
        default_timeout_seconds=loop.default_timeout_seconds,
        allow_timeout_approval=loop.allow_timeout_approval,
    )


async def _loop_page(
    request: Request,
    ctx: Any,
    loop: Loop | None,
    *,
    draft: LoopDraft | None = None,
    sent: Mapping[str, str] | None = None,
    errors: Errors | None = None,
    trial: Mapping[str, str] | None = None,
    trial_errors: Errors | None = None,
    answer: Mapping[str, Any] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    """A new loop's form, or a loop's page. `draft` and `sent` are what a refused form sent
    (shown again beside its errors); `trial` and `answer`, a request tried on the loop and
    the dry run's answer."""
    draft = draft or (_as_draft(loop) if loop else _NEW_LOOP)
    sent = sent or {}
    users = await _people(ctx)
    shown = {
        "required_approvals": str(draft.required_approvals),
        "default_timeout_minutes": _minutes(draft.default_timeout_seconds),
    }
    values: dict[str, Any] = {
        "loop": loop,
        "draft": draft,
        "users": users,
        "errors": errors or {},
        "labels": LABELS,
        "saved": saved,
        "section": "loops",
    }
    if loop is not None:
        loops = await loop_service.list_loops(ctx, None, MAX_ROWS)
        names = Names({u.id: u.name for u in users}, {lp.id: lp.name for lp in loops})
        shown.update(_routing_fields(loop))
        values.update(
            _routing_view(loop, names),
            # What the page first showed, kept across a refused save: a part the admin did not
            # touch stays unsent.
            was={name: sent.get(f"{name}_was", shown[name]) for name in KEPT},
            trial={**_TRIAL_DEFAULTS, **(trial or {})},
            trial_errors=trial_errors or {},
            sim=_simulation_view(answer, names) if answer else None,
        )
    values["fields"] = {name: sent.get(name, text) for name, text in shown.items()}
    return await page(request, "admin_loop_form.html", values, status=status)


def _routing_fields(loop: Loop) -> dict[str, str]:
    return {
        "assignment": loop.assignment.value,
        "default_timeout_action": loop.default_timeout_action.value,
        "pickup_timeout_minutes": _minutes(loop.pickup_timeout_seconds),
        **_part_texts(loop),
    }


def _routing_view(loop: Loop, names: Names) -> dict[str, Any]:
    """How the loop routes requests (as saved), in words."""
    return {
        "names": names,
        "text": loop_text,
        "rules": [(r, loop_text.rule_action(r.to_json(), names)) for r in loop.rules],
        "escalation": [(s, loop_text.step_text(s.to_json(), names)) for s in loop.escalation],
        "assignments": list(AssignmentStrategy),
        "timeout_actions": list(TimeoutAction),
        "priorities": list(Priority),
        "content_types": list(ContentType),
        "loops": sorted(names.loops.items(), key=lambda item: item[1].lower()),
    }


def _simulation_view(answer: Mapping[str, Any], names: Names) -> dict[str, Any]:
    """The dry run's answer, with its timeline and people in words."""

    def who(people: list[Mapping[str, Any]]) -> str:
        return ", ".join(p.get("name") or p.get("email") or p["id"] for p in people)

    timeline = [
        {
            "type": entry["type"],
            "when": loop_text.when_text(entry),
            "what": loop_text.event_text(entry, names, answer["timeout_action"]),
        }
        for entry in answer["timeline"]
    ]
    return {
        "answer": answer,
        "rule": _fired(answer["rule"], names) if answer["rule"] else None,
        "adjusting": [
            _fired(f, names)
            for f in answer["rules_fired"]
            if not answer["rule"] or f["index"] != answer["rule"]["index"]
        ],
        "routed_to": names.loop(answer["routed_to"]) if answer["routed_to"] else None,
        "reviewers": who(answer["reviewers"]),
        "stages": [{**s, "who": who(s["reviewers"])} for s in answer["stages"]],
        "timeline": timeline,
        "timeout": duration(answer["timeout_seconds"]) if answer["timeout_seconds"] else None,
    }


def _fired(rule: Mapping[str, Any], names: Names) -> dict[str, Any]:
    return {**rule, "number": rule["index"] + 1, "does": loop_text.rule_action(rule, names)}


@router.get("/admin/loops/new")
async def new_loop_page(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    return await _loop_page(request, ctx, None)


@router.post("/admin/loops")
async def create_loop(request: Request, ctx: Ctx, session: AdminSession) -> Response:
    form = await request.form()
    errors: Errors = {}
    basics = _basics(form, errors)
    if not errors:
        try:
            draft = LoopDraft(**{**basics, "reviewers": tuple(basics["reviewers"])})
            loop = await loop_service.create_loop(ctx, session.principal, draft)
        except ValidationFailed as exc:
            errors = _field_errors(exc, BASICS)
        except Conflict as exc:
            errors = {"name": [exc.detail]}
        else:
            return RedirectResponse(f"/admin/loops?saved={loop.id}", status_code=303)
    draft = await _draft_as_sent(request, _NEW_LOOP)
    sent = {name: str(form.get(name)) for name in TYPED if name in form}
    return await _loop_page(request, ctx, None, draft=draft, sent=sent, errors=errors, status=422)


@router.get("/admin/loops/{loop_id}")
async def loop_page(
    request: Request, loop_id: str, ctx: Ctx, session: AdminSession, saved: str = ""
) -> Response:
    loop = await loop_service.get_loop(ctx, loop_id)
    return await _loop_page(request, ctx, loop, saved=bool(saved))


@router.post("/admin/loops/{loop_id}")
async def update_loop(request: Request, loop_id: str, ctx: Ctx, session: AdminSession) -> Response:
    loop = await loop_service.get_loop(ctx, loop_id)
    form = await request.form()
    errors: Errors = {}
    # Only what the form holds, and of the JSON parts only those it changed: whatever else
    # the API set stays as it is.
    body = {**_basics(form, errors), **_routing(form, errors)}
    if not errors:
        try:
            changes = api_shapes(request).loop_changes(body)
            await loop_service.update_loop(ctx, session.principal, loop_id, changes)
        except ValidationFailed as exc:
            errors = _field_errors(exc, (*BASICS, *ROUTING))
        except Conflict as exc:
            errors = {"name": [exc.detail]}
        else:
            return RedirectResponse(f"/admin/loops/{loop_id}?saved=1", status_code=303)
    sent = {
        name: str(form.get(name))
        for name in (*TYPED, *(f"{name}_was" for name in KEPT))
        if name in form
    }
    draft = await _draft_as_sent(request, _as_draft(loop))
    return await _loop_page(request, ctx, loop, draft=draft, sent=sent, errors=errors, status=422)


def _trial_body(trial: Mapping[str, str], errors: Errors) -> dict[str, Any]:
    """The tried request as a POST /v1/loops/{id}/simulate body."""
    body: dict[str, Any] = {
        "title": trial["title"].strip() or None,
        "content_type": trial["content_type"],
        "priority": trial["priority"],
        "requested_by": trial["requested_by"].strip() or None,
        "content": trial["content"],
    }
    if trial["content_type"] == ContentType.json.value:
        try:
            body["content"] = json.loads(trial["content"])
        except ValueError as exc:
            _add(errors, "content", f"JSON content must be valid JSON: {exc}")
    for name in ("metadata", "ai_analysis"):
        text = trial[name].strip()
        if not text:
            continue
        try:
            body[name] = json.loads(text)
        except ValueError as exc:
            _add(errors, name, f"not valid JSON: {exc}")
    return body


@router.post("/admin/loops/{loop_id}/simulate")
async def try_request(request: Request, loop_id: str, ctx: Ctx, session: AdminSession) -> Response:
    """A dry run of a request on the loop, shown on the loop's page; nothing is written."""
    loop = await loop_service.get_loop(ctx, loop_id)
    trial = {name: await form_text(request, name, _TRIAL_DEFAULTS[name]) for name in TRIAL}
    errors: Errors = {}
    body = _trial_body(trial, errors)
    answer = None
    if not errors:
        shapes = api_shapes(request)
        try:
            draft = shapes.request_draft(body)
            simulation, people = await simulation_service.simulate(
                ctx, session.principal, loop_id, draft
            )
            answer = shapes.simulation_answer(simulation, people)
        except ValidationFailed as exc:
            errors = _field_errors(exc, TRIAL)
    status = 422 if errors else 200
    return await _loop_page(
        request, ctx, loop, trial=trial, trial_errors=errors, answer=answer, status=status
    )
