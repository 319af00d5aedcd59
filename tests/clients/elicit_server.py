#!/usr/bin/env python3
"""A downstream MCP server on stdio whose tool asks the user a question (elicitation/create)
before it answers, built on the official Python SDK's MCPServer. For the tests of elicitation
passing through Sluice to the agent's client.

    python elicit_server.py        # serves MCP on stdio

Tool `book_table` {"restaurant"} -> asks for {"guests": int, "time": str} (time defaults to
"19:00"), then answers "booked <restaurant> for <guests> at <time>"; any other answer fails the
call ("not booked: the user answered <action>").
"""

from pydantic import BaseModel, Field

from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("elicit")


class Booking(BaseModel):
    guests: int = Field(description="How many people")
    time: str = Field(default="19:00", description="When, HH:MM")


@server.tool()
async def book_table(restaurant: str, ctx: Context) -> str:
    """Book a table, asking the user for the details."""
    answer = await ctx.elicit(f"How many guests at {restaurant}, and when?", Booking)
    if isinstance(answer, AcceptedElicitation):
        return f"booked {restaurant} for {answer.data.guests} at {answer.data.time}"
    raise ValueError(f"not booked: the user answered {answer.action}")


if __name__ == "__main__":
    server.run("stdio")
