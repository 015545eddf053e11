"""`signoff keys create|list|revoke` on the data a running server uses."""

from __future__ import annotations

import json
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
        # A table like the other lists: a header, padded columns, the free text last.
        table = listed.stdout.splitlines()
        assert table[0].split() == ["ID", "PREFIX", "ROLE", "STATE", "USER", "CREATED", "NAME"]
        assert [r.split(maxsplit=6)[2:5] + r.split(maxsplit=7)[7:] for r in table[1:]] == [
            ["admin", "active", "-", "first admin key"],
            ["reviewer", "active", "ann@example.com", "reviewer key"],
            ["admin", "active", "-", "ops"],
            ["requester", "active", "-", "zapier"],
        ]
        assert requester not in listed.output and reviewer not in listed.output
        # --json: the API's shape (GET /v1/api-keys), never a secret.
        shown = json.loads(_keys(env, "list", "--json").stdout)
        assert shown == _api_keys(server, first)
        assert [k["name"] for k in shown] == ["first admin key", "reviewer key", "ops", "zapier"]
        [zapier] = [k for k in shown if k["name"] == "zapier"]
        assert requester.startswith(f"sk_{zapier['prefix']}")
        assert f"{zapier['id']}  sk_{zapier['prefix']}…  requester" in listed.stdout

        revoked = _keys(env, "revoke", zapier["id"])
        assert revoked.exit_code == 0, revoked.output
        assert revoked.stdout == f"revoked {zapier['id']}\n"
        assert _call(server, requester, "GET", "/v1/requests") == 401
        assert _call(server, admin, "GET", "/v1/users") == 200
        after = json.loads(_keys(env, "list", "--json").stdout)
        assert [k["revoked_at"] is not None for k in after] == [False, False, False, True]
        assert _keys(env, "list").stdout.splitlines()[4].split()[3] == "revoked"


def _api_keys(server: Server, key: str) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{server.url}/v1/api-keys",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
        trust_env=False,
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, object]] = answer.json()["data"]
    return found


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
