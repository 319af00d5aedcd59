#!/usr/bin/env python3
"""Drive an MCP server over stdio or Streamable HTTP with the official Python MCP SDK (`mcp` 2.x), for
Sluice's tests.

Run it with the test venv's interpreter (scripts/test installs it in target/test-deps/venv):

    python mcp_client.py --command CMD [--arg A]... [--env K=V]... [--inherit-env] [--cwd DIR]
                         [--mode auto|legacy|VERSION] [--timeout S] [--script OPS.json | < OPS.json]
    python mcp_client.py --url URL [--header K=V]... [--mode ...] [--timeout S] [--script ...]

With --url the SDK's Streamable HTTP client connects to URL, sending the --header pairs (e.g.
"Authorization=Bearer T") with every request; in a session it ends the session with DELETE on exit.

The SDK starts CMD with ARGs. Its environment is what the SDK gives a server (only HOME, LOGNAME,
PATH, SHELL, TERM, USER) plus the --env pairs; --inherit-env passes this script's whole
environment instead (e.g. RUST_LOG). It connects (mode "auto", the SDK default, probes `server/discover` and falls back to
`initialize`; "legacy" sends only `initialize`), runs the ops in order and prints ONE JSON object
on stdout:

    {"server_info": {...}, "protocol_version": "...", "instructions": "..." | null,
     "capabilities": {...}, "results": [...], "error": {...}}   # "error" only on failure

Ops (a JSON array; each result is the plain JSON of the MCP result, camelCase as on the wire):
    {"op": "initialize_result"}                      -> {serverInfo, protocolVersion, instructions, capabilities}
    {"op": "list_tools"}                             -> {"tools": [...]} (all pages)
    {"op": "call_tool", "name": N, "arguments": {}, "timeout_s": S?, "progress": bool?, "meta": {}?}
                                                     -> {"content": [...], "structuredContent": ..., "isError": bool,
                                                         "progress": [{progress, total, message}] (with "progress": true:
                                                         the call carries a progressToken)}
                                                     ("meta": the request's `_meta`, e.g. {"traceparent": ...})
    {"op": "ping"}                                   -> {}
    {"op": "list_resources"} / {"op": "read_resource", "uri": U}
    {"op": "list_prompts"} / {"op": "get_prompt", "name": N, "arguments": {}}
    {"op": "sleep", "ms": N}                         -> {}
    {"op": "elicitations"}                           -> the elicitation requests received so far [{message, requestedSchema, ...}]
    {"op": "notifications"}                          -> server notifications received so far [{method, params}]
    {"op": "wait_notification", "method": M, "timeout_s": S?}
                                                     -> the first notification with that method (default 10 s)
In any op, the text `$token(N)` becomes the first personal-data token in op N's result.

With --elicit-answer JSON the client declares the elicitation capability and accepts every
elicitation/create with that content (recording the request for the "elicitations" op); without it
the SDK declares no elicitation. --elicit-action decline|cancel answers so instead, and
--elicit-delay-s S waits S seconds before answering.

An op that raises stops the run: the output gets "error": {"op_index", "type", "message", "code"?, "data"?}
and the exit code is 1. With "expect_error": true on an op, its error is recorded as that op's result
({"error": {...}}) and the run goes on (a success instead is an error). A failed connection is
reported the same way with "op_index": null. Bad usage exits with 2.

stdout carries only that JSON object; SDK logs and the server's stderr go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import Any

import anyio
from mcp import Client, MCPError, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import BaseModel


def plain(value: Any) -> Any:
    """A pydantic model (or list of them) as wire-shaped JSON: only the fields the peer sent."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def leaf_exception(exc: BaseException) -> BaseException:
    """The interesting exception inside (single-member) exception groups from task groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def describe_error(exc: BaseException) -> dict[str, Any]:
    exc = leaf_exception(exc)
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc) or repr(exc)}
    if isinstance(exc, MCPError):
        error["code"] = exc.error.code
        error["message"] = exc.error.message
        if exc.error.data is not None:
            error["data"] = plain(exc.error.data)
    elif isinstance(exc, BaseExceptionGroup):
        error["causes"] = [describe_error(e) for e in exc.exceptions]
    return error


class Notifications:
    """Server notifications and transport faults seen by the session."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.transport_errors: list[str] = []
        self.changed = anyio.Event()

    async def handle(self, message: Any) -> None:
        if isinstance(message, Exception):
            # e.g. a stdout line that is not JSON-RPC: the SDK logs it and carries on.
            self.transport_errors.append(f"{type(message).__name__}: {message}")
        else:
            self.seen.append(plain(message))
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_for(self, method: str, timeout_s: float) -> dict[str, Any]:
        with anyio.fail_after(timeout_s):
            while True:
                for notification in self.seen:
                    if notification.get("method") == method:
                        return notification
                await self.changed.wait()


# The elicitation requests the client received (with --elicit-answer).
ELICITATIONS: list[Any] = []


TOKEN = re.compile(r"\[[A-Z_]+_\d+_[0-9a-z]+\]")
TOKEN_REFERENCE = re.compile(r"\$token\((\d+)\)")


def with_tokens(op: Any, results: list[Any]) -> Any:
    """The op with every `$token(N)` in its strings replaced by the first personal-data token
    (`[EMAIL_1_k7qm]`) in the result of op N: a token the server returned, sent back."""
    if isinstance(op, dict):
        return {key: with_tokens(value, results) for key, value in op.items()}
    if isinstance(op, list):
        return [with_tokens(value, results) for value in op]
    if isinstance(op, str):
        def token_of(match: re.Match[str]) -> str:
            index = int(match.group(1))
            found = TOKEN.search(json.dumps(results[index])) if index < len(results) else None
            if found is None:
                raise ValueError(f"no token in the result of op {index}")
            return found.group(0)
        return TOKEN_REFERENCE.sub(token_of, op)
    return op


async def run_op(client: Client, notifications: Notifications, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    if kind == "elicitations":
        return list(ELICITATIONS)
    if kind == "initialize_result":
        return {
            "serverInfo": plain(client.server_info),
            "protocolVersion": client.protocol_version,
            "instructions": client.instructions,
            "capabilities": plain(client.server_capabilities),
        }
    if kind == "list_tools":
        tools: list[Any] = []
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            tools.extend(plain(page.tools))
            cursor = page.next_cursor
            if cursor is None:
                return {"tools": tools}
    if kind == "call_tool":
        progress: list[dict[str, Any]] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append({"progress": value, "total": total, "message": message})

        result = await client.call_tool(
            op["name"],
            op.get("arguments") or {},
            read_timeout_seconds=op.get("timeout_s"),
            progress_callback=on_progress if op.get("progress") else None,
            meta=op.get("meta"),
        )
        dumped = plain(result)
        dumped.setdefault("isError", bool(result.is_error))
        if op.get("progress"):
            dumped["progress"] = progress
        return dumped
    if kind == "ping":
        await client.session.send_ping()
        return {}
    if kind == "list_resources":
        return plain(await client.list_resources(cache_mode="bypass"))
    if kind == "read_resource":
        return plain(await client.read_resource(op["uri"], cache_mode="bypass"))
    if kind == "list_prompts":
        return plain(await client.list_prompts(cache_mode="bypass"))
    if kind == "get_prompt":
        return plain(await client.get_prompt(op["name"], op.get("arguments") or {}))
    if kind == "sleep":
        await anyio.sleep(float(op.get("ms", 0)) / 1000)
        return {}
    if kind == "notifications":
        return {"notifications": list(notifications.seen), "transport_errors": list(notifications.transport_errors)}
    if kind == "wait_notification":
        return await notifications.wait_for(op["method"], float(op.get("timeout_s", 10)))
    raise ValueError(f"unknown op {kind!r}")


async def run(args: argparse.Namespace, ops: list[dict[str, Any]], out: dict[str, Any]) -> None:
    env: dict[str, str] = dict(os.environ) if args.inherit_env else {}
    for pair in args.env:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--env takes KEY=VALUE, got {pair!r}")
        env[key] = value
    server: Any
    if args.url is not None:
        headers: dict[str, str] = {}
        for pair in args.header:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"--header takes KEY=VALUE, got {pair!r}")
            headers[key] = value
        http_client = create_mcp_http_client(headers=headers or None)
        server = streamable_http_client(args.url, http_client=http_client)
    else:
        server = StdioServerParameters(command=args.command, args=args.arg, env=env or None, cwd=args.cwd)
    notifications = Notifications()
    out["results"] = []
    out["error"] = None
    with anyio.fail_after(args.timeout):
        op_index: int | None = None
        try:
            extra: dict[str, Any] = {}
            if args.elicit_answer is not None:
                answer = json.loads(args.elicit_answer)

                async def on_elicit(context: Any, params: Any) -> Any:
                    ELICITATIONS.append(plain(params))
                    if args.elicit_delay_s:
                        await anyio.sleep(args.elicit_delay_s)
                    if args.elicit_action != "accept":
                        return types.ElicitResult(action=args.elicit_action)
                    return types.ElicitResult(action="accept", content=answer)

                extra["elicitation_callback"] = on_elicit
            async with Client(server, mode=args.mode, message_handler=notifications.handle, **extra) as client:
                out["server_info"] = plain(client.server_info)
                out["protocol_version"] = client.protocol_version
                out["instructions"] = client.instructions
                out["capabilities"] = plain(client.server_capabilities)
                for op_index, op in enumerate(ops):
                    op = with_tokens(op, out["results"])
                    try:
                        result = await run_op(client, notifications, op)
                    except Exception as exc:  # noqa: BLE001 - every failure is reported as JSON
                        if not op.get("expect_error"):
                            raise
                        out["results"].append({"error": describe_error(exc)})
                        continue
                    if op.get("expect_error"):
                        raise AssertionError(f"op {op_index} ({op.get('op')}) was expected to fail: {result!r}")
                    out["results"].append(result)
        except Exception as exc:  # noqa: BLE001 - reported as JSON; cancellation (the deadline) propagates
            error = describe_error(exc)
            error["op_index"] = op_index
            out["error"] = error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--command", help="server executable (or --url)")
    parser.add_argument("--url", help="a Streamable HTTP server's endpoint (instead of --command)")
    parser.add_argument("--header", action="append", default=[], help="HTTP header KEY=VALUE (repeat)")
    parser.add_argument("--arg", action="append", default=[], help="server argument (repeat; use --arg=-x)")
    parser.add_argument("--env", action="append", default=[], help="server environment KEY=VALUE (repeat)")
    parser.add_argument("--inherit-env", action="store_true", help="give the server this whole environment")
    parser.add_argument("--cwd", default=None, help="server working directory")
    parser.add_argument("--mode", default="auto", help="auto (SDK default), legacy, or a modern protocol version")
    parser.add_argument("--timeout", type=float, default=60.0, help="whole-run deadline in seconds (default 60)")
    parser.add_argument("--script", default="-", help="ops JSON file, or - for stdin (default)")
    parser.add_argument("--elicit-answer", default=None, help="accept every elicitation with this JSON content")
    parser.add_argument("--elicit-action", default="accept", help="with --elicit-answer: accept, decline or cancel every elicitation")
    parser.add_argument("--elicit-delay-s", type=float, default=0.0, help="with --elicit-answer: wait this long before answering")
    args = parser.parse_args()
    if (args.command is None) == (args.url is None):
        parser.error("give exactly one of --command and --url")

    logging.basicConfig(stream=sys.stderr, level=os.environ.get("MCP_CLIENT_LOG", "WARNING"))
    out: dict[str, Any] = {
        "server_info": None,
        "protocol_version": None,
        "instructions": None,
        "capabilities": None,
        "results": [],
    }
    try:
        text = sys.stdin.read() if args.script == "-" else open(args.script, encoding="utf-8").read()
        ops = json.loads(text) if text.strip() else []
        if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
            raise ValueError("the ops must be a JSON array of objects")
    except (OSError, ValueError) as exc:
        out["error"] = {"type": type(exc).__name__, "message": f"bad ops script: {exc}", "op_index": None}
        print(json.dumps(out))
        return 2

    try:
        anyio.run(run, args, ops, out)
    except TimeoutError:
        out["error"] = {"type": "TimeoutError", "message": f"the run took longer than {args.timeout} s", "op_index": None}
    except Exception as exc:  # noqa: BLE001 - the contract is one JSON object, whatever happens
        out["error"] = {**describe_error(exc), "op_index": None}

    if out.get("error") is None:
        out.pop("error", None)
    print(json.dumps(out))
    return 1 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
