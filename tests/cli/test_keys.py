"""`signoff keys create|list|revoke` on the data a running server uses."""

from __future__ import annotations

from pathlib import Path

import httpx
from click.testing import CliRunner, Result

from signoff.cli import main
from tests.integration.server import KEY, Server, run_signoff, serve


def _call(server: Server, key: str, method: str, path: str, **kw: object) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    answer = httpx.request(
        method, f"{server.url}{path}", headers=headers, timeout=10, trust_env=False, **kw
    )  # type: ignore[arg-type]
    return answer.status_code


def _keys(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["keys", *args], env=env, catch_exceptions=False)


def _created(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert KEY.fullmatch(result.stdout.strip()), result.stdout
    return result.stdout.strip()


def test_keys_create_list_and_revoke(env: dict[str, str], tmp_path: Path) -> None:
    with serve(env, tmp_path / "logs") as server:
        first = server.first_key()
        assert first
        user = {"email": "ann@example.com", "name": "Ann", "role": "reviewer"}
        assert _call(server, first, "POST", "/v1/users", json=user) == 201

        # For scripts: the key, and only the key, on stdout.
        made = run_signoff(env, "keys", "create", "--role", "reviewer", "--user", "Ann@example.com")
        assert made.returncode == 0, made.stderr
        assert KEY.fullmatch(made.stdout.removesuffix("\n")), repr(made.stdout)
        reviewer = made.stdout.strip()
        assert _call(server, reviewer, "GET", "/v1/loops") == 200
        assert _call(server, reviewer, "POST", "/v1/loops", json={"name": "x"}) == 403

        admin = _created(_keys(env, "create", "--role", "admin", "--name", "ops"))
        assert _call(server, admin, "GET", "/v1/users") == 200
        requester = _created(_keys(env, "create", "--role", "requester", "--name", "zapier"))
        assert _call(server, requester, "GET", "/v1/requests") == 200
        assert _call(server, requester, "GET", "/v1/users") == 403

        listed = _keys(env, "list")
        assert listed.exit_code == 0, listed.output
        rows = [line.split("\t") for line in listed.stdout.splitlines()]
        assert [(r[2], r[3], r[4]) for r in rows] == [
            ("admin", "active", "first admin key"),
            ("reviewer", "active", "reviewer key"),
            ("admin", "active", "ops"),
            ("requester", "active", "zapier"),
        ]
        assert all(r[1] == f"{requester[:15]}…" for r in rows if r[4] == "zapier")
        assert requester not in listed.output and reviewer not in listed.output

        [zapier] = [r[0] for r in rows if r[4] == "zapier"]
        revoked = _keys(env, "revoke", zapier)
        assert revoked.exit_code == 0 and revoked.stdout == f"revoked {zapier}\n", revoked.output
        assert _call(server, requester, "GET", "/v1/requests") == 401
        assert _call(server, admin, "GET", "/v1/users") == 200
        after = [line.split("\t") for line in _keys(env, "list").stdout.splitlines()]
        assert [r[3] for r in after if r[0] == zapier] == ["revoked"]


def test_keys_create_refuses_what_cannot_work(env: dict[str, str]) -> None:
    unknown = _keys(env, "create", "--role", "reviewer", "--user", "nobody@example.com")
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    assert unknown.stderr == "error: no user with email nobody@example.com\n"

    no_user = _keys(env, "create", "--role", "reviewer")
    assert no_user.exit_code == 1 and no_user.stdout == ""
    assert "a reviewer key must act for a user" in no_user.stderr

    bad_role = _keys(env, "create", "--role", "owner")
    assert bad_role.exit_code == 2 and bad_role.stdout == ""
    assert "'owner' is not one of" in bad_role.stderr

    gone = _keys(env, "revoke", "key_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert gone.exit_code == 1 and "no API key with id" in gone.stderr
