"""/v1/users and /v1/api-keys"""

from __future__ import annotations

from fastapi import APIRouter

from ..service import accounts
from ..service import users as service
from .deps import Admin, Ctx, Limit, decode_cursor, id_cursor, page_of
from .idempotency import IdempotentRoute
from .out import key_out, user_out
from .schemas import (
    ApiKeyIn,
    ApiKeyOut,
    CreatedApiKeyOut,
    CreatedUserOut,
    InviteOut,
    Page,
    UserIn,
    UserOut,
    UserPatch,
)

router = APIRouter(tags=["people"], route_class=IdempotentRoute)


@router.post("/v1/users", status_code=201)
async def create_user(body: UserIn, ctx: Ctx, caller: Admin) -> CreatedUserOut:
    if body.password is not None:
        user = await service.create_user(
            ctx, caller, body.email, body.name, body.role, body.password
        )
        return CreatedUserOut(**user_out(user).model_dump())
    user, invite = await accounts.create_invited_user(ctx, caller, body.email, body.name, body.role)
    return CreatedUserOut(**user_out(user).model_dump(), invite_url=invite.url)


@router.post("/v1/users/{user_id}/invite", status_code=201)
async def invite_user(user_id: str, ctx: Ctx, caller: Admin) -> InviteOut:
    """A new invite link for the user (to set or reset their password)."""
    invite = await accounts.invite_user(ctx, caller, user_id)
    return InviteOut(url=invite.url, expires_at=invite.token.expires_at)


@router.get("/v1/users")
async def list_users(
    ctx: Ctx, caller: Admin, limit: Limit, cursor: str | None = None
) -> Page[UserOut]:
    found = await service.list_users(ctx, decode_cursor(cursor, "usr"), limit + 1)
    return page_of(found, limit, user_out, id_cursor)


@router.get("/v1/users/{user_id}")
async def get_user(user_id: str, ctx: Ctx, caller: Admin) -> UserOut:
    return user_out(await service.get_user(ctx, user_id))


@router.patch("/v1/users/{user_id}")
async def update_user(user_id: str, body: UserPatch, ctx: Ctx, caller: Admin) -> UserOut:
    return user_out(await service.update_user(ctx, caller, user_id, body.changes()))


@router.post("/v1/api-keys", status_code=201)
async def create_key(body: ApiKeyIn, ctx: Ctx, caller: Admin) -> CreatedApiKeyOut:
    created = await service.create_key(ctx, caller, body.name, body.role, body.user_id)
    return CreatedApiKeyOut(**key_out(created.key).model_dump(), key=created.secret)


@router.get("/v1/api-keys")
async def list_keys(
    ctx: Ctx, caller: Admin, limit: Limit, cursor: str | None = None
) -> Page[ApiKeyOut]:
    found = await service.list_keys(ctx, decode_cursor(cursor, "key"), limit + 1)
    return page_of(found, limit, key_out, id_cursor)


@router.delete("/v1/api-keys/{key_id}")
async def revoke_key(key_id: str, ctx: Ctx, caller: Admin) -> ApiKeyOut:
    return key_out(await service.revoke_key(ctx, caller, key_id))
