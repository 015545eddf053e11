"""Accounts through one-time links: the first admin's setup link, invites, deactivation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from signoff.domain.model import SYSTEM, UserRole
from signoff.domain.tokens import AccountTokenKind, TokenState
from signoff.errors import Conflict, Forbidden, NotFound, ValidationFailed
from signoff.service import accounts
from signoff.service.passwords import check_password
from signoff.service.users import create_user
from signoff.store import users as user_store
from tests.api.test_errors import GHOST_USER, all_events, assert_problem, case
from tests.conftest import Api

PASSWORD = "correct horse battery staple"


def _token(url: str, kind: str) -> str:
    assert f"/{kind}/" in url, url
    return url.rsplit("/", 1)[1]


async def _hash_of(api: Api, email: str) -> str | None:
    async with api.ctx.db.read() as conn:
        user = await user_store.get_user_by_email(conn, email)
        assert user is not None
        found = await user_store.find_password_hash(conn, user.id)
    return found


async def test_setup_link_makes_the_first_admin_once(api: Api) -> None:
    first = await accounts.start_setup(api.ctx)
    assert first is not None and first.url.startswith("http://testserver/setup/")
    again = await accounts.start_setup(api.ctx)  # a restart: the earlier link stops working
    assert again is not None
    old, new = _token(first.url, "setup"), _token(again.url, "setup")
    opened = await accounts.open_account_link(api.ctx, old, AccountTokenKind.setup)
    assert opened.state is TokenState.revoked
    assert (
        await accounts.open_account_link(api.ctx, new, AccountTokenKind.setup)
    ).state is TokenState.valid
    with pytest.raises(Forbidden):
        await accounts.complete_setup(api.ctx, old, "root@example.com", "Root", PASSWORD)
    for email, name, password, field in [
        ("nope", "Root", PASSWORD, "form.email"),
        ("root@example.com", " ", PASSWORD, "form.name"),
        ("root@example.com", "Root", "short", "form.password"),
    ]:
        with case(field), pytest.raises(ValidationFailed) as err:
            await accounts.complete_setup(api.ctx, new, email, name, password)
        assert [e.field for e in err.value.errors] == [field]
    user = await accounts.complete_setup(api.ctx, new, " Root@Example.com ", "Root", PASSWORD)
    assert (user.email, user.role, user.has_password) == ("root@example.com", UserRole.admin, True)
    assert check_password(await _hash_of(api, "root@example.com"), PASSWORD)
    with pytest.raises(Conflict, match="already used"):
        await accounts.complete_setup(api.ctx, new, "eve@example.com", "Eve", PASSWORD)
    assert await accounts.start_setup(api.ctx) is None  # an admin can sign in now
    with pytest.raises(NotFound):
        await accounts.open_account_link(api.ctx, new + "x", AccountTokenKind.setup)
    # A setup token is not an invite token, whatever its shape.
    with pytest.raises(NotFound):
        await accounts.open_account_link(api.ctx, new, AccountTokenKind.invite)
    events = await all_events(api, type="user.created")
    assert events[-1]["actor"] == {"type": "system", "name": "setup link"}
    assert PASSWORD not in json.dumps(events) and new not in json.dumps(await all_events(api))


async def test_invite_sets_the_password_once(api: Api) -> None:
    r = await api.as_(
        "admin", "POST", "/v1/users", json={"email": "dee@example.com", "name": "Dee"}
    )
    assert r.status_code == 201, r.text
    dee = r.json()
    assert dee["has_password"] is False and dee["invite_url"].startswith(
        "http://testserver/invite/"
    )
    token = _token(dee["invite_url"], "invite")
    opened = await accounts.open_account_link(api.ctx, token, AccountTokenKind.invite)
    assert opened.state is TokenState.valid and opened.user and opened.user.id == dee["id"]
    with pytest.raises(ValidationFailed):
        await accounts.accept_invite(api.ctx, token, "short")
    user = await accounts.accept_invite(api.ctx, token, PASSWORD)
    assert user.has_password and check_password(await _hash_of(api, "dee@example.com"), PASSWORD)
    with pytest.raises(Conflict, match="already used"):
        await accounts.accept_invite(api.ctx, token, "another password 1")
    assert check_password(await _hash_of(api, "dee@example.com"), PASSWORD)
    [invited] = await all_events(api, type="user.invited")
    assert invited["data"]["email"] == "dee@example.com"

    # A new invite (a password reset) replaces the unused one before it.
    r1 = await api.as_("admin", "POST", f"/v1/users/{dee['id']}/invite")
    r2 = await api.as_("admin", "POST", f"/v1/users/{dee['id']}/invite")
    assert r1.status_code == r2.status_code == 201
    assert set(r2.json()) == {"url", "expires_at"}
    stale = _token(r1.json()["url"], "invite")
    with pytest.raises(Forbidden, match="replaced or revoked"):
        await accounts.accept_invite(api.ctx, stale, "another password 2")


async def test_invites_expire_and_die_with_deactivation(api: Api) -> None:
    dee = await create_user(api.ctx, SYSTEM, "dee@example.com", "Dee", UserRole.reviewer, None)
    token = _token((await accounts.invite_user(api.ctx, SYSTEM, dee.id)).url, "invite")
    real = api.ctx.clock
    api.ctx.clock = lambda: real() + accounts.INVITE_TTL + timedelta(seconds=1)
    try:
        opened = await accounts.open_account_link(api.ctx, token, AccountTokenKind.invite)
        assert opened.state is TokenState.expired
        with pytest.raises(Forbidden, match="expired"):
            await accounts.accept_invite(api.ctx, token, PASSWORD)
    finally:
        api.ctx.clock = real
    token = _token((await accounts.invite_user(api.ctx, SYSTEM, dee.id)).url, "invite")
    r = await api.as_("admin", "PATCH", f"/v1/users/{dee.id}", json={"active": False})
    assert r.status_code == 200, r.text
    with pytest.raises(Forbidden):
        await accounts.accept_invite(api.ctx, token, PASSWORD)
    assert_problem(await api.as_("admin", "POST", f"/v1/users/{dee.id}/invite"), 409)
    assert_problem(await api.as_("admin", "POST", f"/v1/users/{GHOST_USER}/invite"), 404)
    assert_problem(await api.as_("requester", "POST", f"/v1/users/{dee.id}/invite"), 403)
    assert await _hash_of(api, "dee@example.com") is None
