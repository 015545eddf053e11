"""The router every web module uses: CSRF checked on every unsafe method, errors as pages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from .csrf import csrf_protect


def web_router() -> APIRouter:
    """An APIRouter for pages: CSRF-checked, and left out of the API's OpenAPI document."""
    return APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)


async def form_text(request: Request, name: str, default: str = "") -> str:
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else default


async def form_list(request: Request, name: str) -> list[str]:
    return [v for v in (await request.form()).getlist(name) if isinstance(v, str)]


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site (never `//host` or `https://…`), else `default`."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default
