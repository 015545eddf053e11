"""What the web admin borrows from the API: its input checks and the dry run's answer shape.

The loop page saves rules, stages and clocks given as JSON, and tries a request on the loop; it
must accept, refuse and show exactly what `PATCH /v1/loops/{id}` and
`POST /v1/loops/{id}/simulate` do, with no second set of checks to drift. web/ may not import
api/ (import-linter keeps the adapters apart), so app.py hands the API's functions in
(api/inputs.py) and `install` keeps them on the app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from ..domain.model import User
from ..domain.simulation import Simulation
from ..service.requests import RequestDraft


@dataclass(frozen=True)
class ApiShapes:
    # A PATCH /v1/loops/{id} body → the changes service.loops.update_loop takes;
    # ValidationFailed naming `body.<field>` as the API's 422 does.
    loop_changes: Callable[[Mapping[str, Any]], dict[str, Any]]
    # A POST /v1/loops/{id}/simulate body → the request it describes; ValidationFailed likewise.
    request_draft: Callable[[Mapping[str, Any]], RequestDraft]
    # A dry run → the JSON the API answers with.
    simulation_answer: Callable[[Simulation, Mapping[str, User]], dict[str, Any]]


def api_shapes(request: Request) -> ApiShapes:
    shapes: ApiShapes = request.app.state.api_shapes
    return shapes
