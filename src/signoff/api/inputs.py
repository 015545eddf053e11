"""The API's own checks and answer shapes as plain functions, for the web admin's loop page.

That page edits a loop's rules, stages and clocks as JSON and tries a request on it; it must
save, refuse and show exactly what `PATCH /v1/loops/{id}` and `POST /v1/loops/{id}/simulate`
do. web/ may not import api/ (the adapters stay apart), so app.py hands these to it
(`web.ApiShapes`); their errors name fields as the API's 422 does (`body.rules.0.when`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..domain.model import User
from ..domain.simulation import Simulation
from ..service.requests import RequestDraft
from .out import simulation_out
from .problems import validation_failed
from .requests import draft_of
from .schemas import LoopPatch, RequestIn

M = TypeVar("M", bound=BaseModel)


def _checked(model: type[M], body: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_failed(exc.errors(), prefix=("body",)) from None


def loop_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """A PATCH /v1/loops/{id} body as the changes `service.loops.update_loop` takes."""
    return _checked(LoopPatch, body).changes()


def request_draft(body: Mapping[str, Any]) -> RequestDraft:
    """A POST /v1/loops/{id}/simulate (or create) body as the request it describes."""
    return draft_of(_checked(RequestIn, body))


def simulation_answer(simulation: Simulation, people: Mapping[str, User]) -> dict[str, Any]:
    """The dry run as POST /v1/loops/{id}/simulate answers it, in JSON types."""
    return simulation_out(simulation, dict(people)).model_dump(mode="json")
