"""The FastAPI application for /v1 and the health checks."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ..service.context import Context
from ..service.health import readiness
from . import assignments, events, links, loops, people, problems, requests, webhooks
from .limits import BodyLimit


def create_api(ctx: Context, *, max_body_bytes: int, lifespan: object = None) -> FastAPI:
    app = FastAPI(
        title="Signoff",
        version="1",
        summary="Human-in-the-loop approvals for workflows and AI agents.",
        lifespan=lifespan,  # type: ignore[arg-type]
        # FastAPI's docs pages load their scripts from a CDN, and Signoff runs offline: the
        # reference is /openapi.json, for any OpenAPI viewer.
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    problems.install(app)
    for module in (loops, requests, links, events, people, webhooks, assignments):
        app.include_router(module.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        ready, detail = await readiness(ctx)
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "detail": detail},
            status_code=200 if ready else 503,
        )

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app
