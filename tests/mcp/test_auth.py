"""Who may use the MCP tools: over HTTP every request to /mcp needs a valid API key (401
problem+json otherwise); over stdio a bad key makes every tool call a clear tool error."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from mcp import MCPError

from signoff.client import AsyncClient, Loop
from tests.integration.server import free_port, run_signoff, signoff_env
from tests.mcp.support import Live, connect, outcome, text


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer sk_0000_nope", "Bearer not-a-key", "Basic YWRtaW46YWRtaW4="],
    ids=["none", "unknown", "malformed", "basic"],
)
async def test_http_without_a_valid_key_is_401_problem_json(
    live: Live, authorization: str | None
) -> None:
    headers = HEADERS | ({"Authorization": authorization} if authorization else {})
    async with httpx.AsyncClient(trust_env=False) as http:
        for method in ("POST", "GET", "DELETE"):
            answer = await http.request(
                method,
                f"{live.url}/mcp",
                json=INITIALIZE if method == "POST" else None,
                headers=headers,
            )
            assert answer.status_code == 401, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["www-authenticate"] == "Bearer"
            problem = answer.json()
            assert problem["type"] == "urn:signoff:problem:unauthenticated"
            assert problem["status"] == 401 and problem["detail"]


@pytest.mark.parametrize("transport", ["http", "http-2026"])
async def test_http_the_official_client_is_refused_with_a_bad_key(
    live: Live, transport: str
) -> None:
    with pytest.raises(BaseException) as refused:  # the transport's task group wraps it
        async with connect(transport, live, "sk_0000_nope") as session:
            await session.list_tools()  # the 2026 revision sends nothing before a first call
    assert any(isinstance(error, MCPError) for error in leaves(refused.value)), refused.value


@pytest.mark.parametrize("transport", ["http", "http-2026"])
async def test_http_a_key_revoked_mid_session_stops_working_at_once(
    live: Live, admin: AsyncClient, loop: Loop, transport: str
) -> None:
    key = await admin.create_api_key("short-lived", "requester")
    assert key.key
    async with connect(transport, live, key.key) as session:
        assert outcome(await session.call_tool("list_loops", {}))["loops"]
        await admin.revoke_api_key(key.id)
        with pytest.raises(MCPError):  # the next HTTP request is a 401
            await session.call_tool("list_loops", {})


async def test_http_the_endpoint_is_not_in_the_openapi_document(live: Live) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        document = (await http.get(f"{live.url}/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/mcp")]


async def test_stdio_a_bad_key_makes_each_tool_call_a_clear_error(
    live: Live, tmp_path: Path
) -> None:
    async with connect("stdio", live, "sk_0000_nope", errlog=tmp_path / "err") as session:
        result = await session.call_tool("list_loops", {})
        asked = await session.call_tool("request_approval", {"loop": "x", "content": "y"})
    for answer in (result, asked):
        assert answer.is_error
        assert "Signoff refused the API key" in text(answer), text(answer)


async def test_stdio_a_server_that_is_down_is_a_clear_error(live: Live, tmp_path: Path) -> None:
    down = replace(live, server=replace(live.server, url=f"http://127.0.0.1:{free_port()}"))
    async with connect("stdio", down, live.requester_key, errlog=tmp_path / "err") as session:
        result = await session.call_tool("list_loops", {})
    assert result.is_error and "could not be reached" in text(result), text(result)


def test_stdio_without_url_or_key_exits_2_and_says_what_is_missing() -> None:
    done = run_signoff(signoff_env(), "mcp")
    assert done.returncode == 2
    assert "SIGNOFF_URL and SIGNOFF_API_KEY" in done.stderr and done.stdout == ""
    done = run_signoff(signoff_env(url="http://127.0.0.1:9"), "mcp")
    assert done.returncode == 2
    assert "set SIGNOFF_API_KEY" in done.stderr and "SIGNOFF_URL" not in done.stderr
