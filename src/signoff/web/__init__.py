"""The reviewer web app: server-rendered pages over the service layer.

`install(app, api_shapes)` adds the pages, the static assets and the HTML error pages to the
FastAPI app that serves /v1. Every page and form goes through `service/` like the API does
(one decision path); `auth.py` says who is signed in, `csrf.py` guards every form, `render.py`
renders.
A module with pages makes its router with `routing.web_router()` and is listed in `_MODULES`.
The loop admin page checks and shows loops through the API's own shapes, handed in as
`ApiShapes` (web/ may not import api/).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import accounts, admin, admin_loops, errors, inbox, links, login, review
from .api_shapes import ApiShapes
from .render import HERE

__all__ = ["ApiShapes", "install"]
_MODULES = (login, inbox, review, links, accounts, admin, admin_loops)


def install(app: FastAPI, api_shapes: ApiShapes) -> None:
    app.state.api_shapes = api_shapes
    for module in _MODULES:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    errors.install(app)
