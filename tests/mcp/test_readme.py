"""The README's MCP configuration works as written: the `mcpServers` entry an assistant would
run, and the URL and header of streamable HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.integration.server import SIGNOFF
from tests.mcp.support import Live, outcome

README = Path(__file__).parents[2] / "README.md"
TOOLS = {"request_approval", "get_decision", "list_loops", "cancel_request"}


def mcp_section() -> str:
    text = README.read_text()
    start = text.index("**AI assistants, through MCP.**")
    return text[start : text.index("\n## ", start)]


async def test_the_mcp_servers_entry_starts_a_working_server(live: Live, tmp_path: Path) -> None:
    block = re.search(r"```json\n(.*?)```", mcp_section(), re.S)
    assert block, "the README shows an mcpServers entry"
    entry = json.loads(block.group(1))["mcpServers"]["signoff"]
    assert entry["command"] == "signoff"
    assert entry["env"] == {"SIGNOFF_URL": "http://127.0.0.1:8000", "SIGNOFF_API_KEY": "sk_…"}
    params = StdioServerParameters(
        command=SIGNOFF[0],  # the `signoff` script of this environment
        args=[*SIGNOFF[1:], *entry["args"]],
        env={"SIGNOFF_URL": live.url, "SIGNOFF_API_KEY": live.requester_key},
    )
    with (tmp_path / "stderr").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
            assert "loops" in outcome(await session.call_tool("list_loops", {}))


async def test_the_streamable_http_url_and_header_work(live: Live) -> None:
    section = mcp_section()
    url = re.search(r"`(http://127\.0\.0\.1:8000/mcp)`", section)
    header = re.search(r"`(Authorization): (Bearer) sk_…`", section)
    assert url and header, "the README names the URL and the header"
    served = f"{live.url}{urlsplit(url.group(1)).path}"
    http = create_mcp_http_client(
        headers={header.group(1): f"{header.group(2)} {live.requester_key}"}
    )
    async with (
        http,
        streamable_http_client(served, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
