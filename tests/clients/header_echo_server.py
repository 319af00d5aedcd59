#!/usr/bin/env python3
"""A downstream MCP server over Streamable HTTP whose one tool tells which request headers reached
it, built on the official Python SDK's MCPServer. For the test that an agent's token never goes on
to a downstream server.

    python header_echo_server.py PORT      # serves http://127.0.0.1:PORT/mcp until killed

Tool `seen_headers` -> {"authorization": <the Authorization header or null>, "names": [...]}.
"""

import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("header-echo")


@server.tool()
def seen_headers(ctx: Context) -> dict:
    """The HTTP request headers this call arrived with."""
    headers = {key.lower(): value for key, value in (ctx.headers or {}).items()}
    return {"authorization": headers.get("authorization"), "names": sorted(headers)}


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
