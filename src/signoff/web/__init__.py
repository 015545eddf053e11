"""The reviewer web app: server-rendered pages over the service layer.

`install(app)` adds the pages, the static assets and the HTML error pages to the FastAPI app
that serves /v1. Every page and form goes through `service/` like the API does (one decision
path); `auth.py` says who is signed in, `csrf.py` guards every form, `render.py` renders.
A module with pages makes its router with `routing.web_router()` and is listed in `_MODULES`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import accounts, admin, errors, inbox, links, login, review
from .render import HERE

_MODULES = (login, inbox, review, links, accounts, admin)


def install(app: FastAPI) -> None:
    for module in _MODULES:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    errors.install(app)
