"""The MCP server: tools for an AI assistant to ask a person and read the decision.

    tools.py   the tools, written once against the SDK's AsyncClient (`build_server`)
    stdio.py   `signoff mcp`: over stdio, a client of a running server
    http.py    streamable HTTP at /mcp on `signoff serve`, acting with the caller's key

Every tool call is a REST API call, so the API's authentication, roles and policies apply.
"""

DEFAULT_WAIT_SECONDS = 50.0  # how long a tool waits for a decision: under the 60 s many MCP
# clients give a tool call (SIGNOFF_MCP_WAIT_SECONDS)
