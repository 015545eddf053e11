"""Two votes racing for the last approval complete the request exactly once.

Real concurrency: `signoff serve` runs in its own process (two of them, sharing the database, for
the multi-replica case) and two client threads send their votes at the same moment, round after
round. The loser must be told 409; the request must be completed once, with one decision.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from signoff.app import build_context
from signoff.config import Settings
from signoff.service.context import seal
from signoff.service.events import verify_chain

from .server import Server, serve_many, signoff_env

ROUNDS = 30
INVALID_TRANSITION = "urn:signoff:problem:invalid-transition"


@dataclass(frozen=True)
class Round:
    """One request and the two votes that race on it."""

    request_id: str
    before: int  # votes cast before the race
    ballots: tuple[dict[str, Any], dict[str, Any]]


APPROVE = {"decision": "approve"}
REJECT = {"decision": "reject", "feedback": "not this one"}


def _client(server: Server, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        trust_env=False,
    )


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _set_up(servers: list[Server]) -> tuple[dict[str, str], list[Round]]:
    """Three reviewers with keys, a loop, and the requests of every round."""
    # Replicas started together make one first admin key between them.
    [admin_key] = [key for s in servers if (key := s.first_key())]
    server = servers[0]
    keys: dict[str, str] = {"admin": admin_key}
    with _client(server, admin_key) as admin:
        ids = {}
        for name in ("ann", "bob", "cat"):
            user = _ok(admin.post("/v1/users", json={"email": f"{name}@x.org", "name": name}), 201)
            ids[name] = user["id"]
            body = {"name": name, "role": "reviewer", "user_id": user["id"]}
            keys[name] = _ok(admin.post("/v1/api-keys", json=body), 201)["key"]
        loop = _ok(
            admin.post("/v1/loops", json={"name": "race", "reviewers": list(ids.values())}), 201
        )
        # Three kinds of race, in turn: the last of two approvals; two approvals for one; an
        # approval against a rejection.
        items = [
            {"content": f"race {i}", "required_approvals": 2 if i % 3 == 0 else 1}
            for i in range(ROUNDS)
        ]
        batch = admin.post(f"/v1/loops/{loop['id']}/requests/batch", json={"items": items})
        created = _ok(batch, 201)["data"]
    rounds = []
    with _client(server, keys["ann"]) as ann:
        for i, request in enumerate(created):
            if i % 3 == 0:
                _ok(ann.post(f"/v1/requests/{request['id']}/decisions", json=APPROVE), 201)
                rounds.append(Round(request["id"], 1, (APPROVE, APPROVE)))
            else:
                rounds.append(Round(request["id"], 0, (APPROVE, APPROVE if i % 3 == 1 else REJECT)))
    return keys, rounds


def _racer(
    server: Server,
    key: str,
    rounds: list[Round],
    side: int,
    barrier: threading.Barrier,
    answers: list[httpx.Response | BaseException],
) -> None:
    with _client(server, key) as client:
        for race in rounds:
            try:
                barrier.wait(timeout=30)
                url = f"/v1/requests/{race.request_id}/decisions"
                answers.append(client.post(url, json=race.ballots[side]))
            except BaseException as exc:  # reported by the test, not lost in the thread
                answers.append(exc)
                barrier.abort()
                return


def _race(servers: list[Server], keys: dict[str, str], rounds: list[Round]) -> list[list[Any]]:
    """Both sides' answers, round by round; with two servers each side sends to its own."""
    barrier = threading.Barrier(2)
    answers: list[list[httpx.Response | BaseException]] = [[], []]
    racers = [
        threading.Thread(
            target=_racer,
            args=(servers[side % len(servers)], keys[name], rounds, side, barrier, answers[side]),
        )
        for side, name in enumerate(("bob", "cat"))
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
        assert not racer.is_alive(), "a racer hung"
    return [list(pair) for pair in zip(*answers, strict=True)]


def _check_round(client: httpx.Client, race: Round, pair: list[Any]) -> str:
    """Answers which side won, after checking the request completed once."""
    for answer in pair:
        assert isinstance(answer, httpx.Response), answer
    codes = sorted(a.status_code for a in pair)
    assert codes == [201, 409], [a.text for a in pair]
    side = 0 if pair[0].status_code == 201 else 1
    won, lost = pair[side].json(), pair[1 - side].json()
    assert won["status"] == "completed"
    assert lost["type"] == INVALID_TRANSITION, lost
    expected = "approved" if race.ballots[side]["decision"] == "approve" else "rejected"
    assert won["decision"] == expected

    request = _ok(client.get(f"/v1/requests/{race.request_id}"))
    assert (request["status"], request["decision"]) == ("completed", expected)
    events = _ok(client.get(f"/v1/requests/{race.request_id}/events"))["data"]
    types = [e["type"] for e in events]
    assert types.count("request.completed") == 1, types
    assert types.count("request.vote") == race.before + 1, types
    assert types[-1] == "request.completed", types
    return ("bob", "cat")[side]


@pytest.mark.parametrize("replicas", [1, 2], ids=["one-server", "two-servers"])
def test_racing_votes_complete_a_request_once(db_url: str, tmp_path: Path, replicas: int) -> None:
    env = signoff_env(data_dir=str(tmp_path / "data"), database_url=db_url)
    with serve_many(env, tmp_path / "logs", replicas) as servers:
        keys, rounds = _set_up(servers)
        results = _race(servers, keys, rounds)
        with _client(servers[-1], keys["admin"]) as client:
            winners = [
                _check_round(client, r, pair) for r, pair in zip(rounds, results, strict=True)
            ]
        for server in servers:
            assert "Traceback" not in server.stderr, server.stderr
    # Every server is stopped: the chain they wrote together must be whole.
    assert asyncio.run(_verify(db_url, tmp_path)) > ROUNDS * 3
    # Not a requirement, but a sign that the votes really raced: each side won sometimes.
    assert set(winners) == {"bob", "cat"}, winners


async def _verify(db_url: str, tmp_path: Path) -> int:
    ctx = build_context(Settings(data_dir=tmp_path / "data", database_url=db_url), "http://x")
    try:
        if not ctx.db.is_sqlite:
            await seal(ctx)
        verdict, unsealed = await verify_chain(ctx)
    finally:
        await ctx.db.dispose()
    assert verdict.ok and unsealed == 0, verdict
    return verdict.checked
