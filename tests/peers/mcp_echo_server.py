"""A small real MCP server (the library's FastMCP) for the MCP client tests.

    python tests/peers/mcp_echo_server.py [--tag X]          # stdio (the usual MCP transport)
    python -m tests.peers.mcp_echo_server --port 0 [--token T]
        # streamable HTTP on 127.0.0.1 at /mcp; prints "PORT <n>" first; with --token, requests
        # without "Authorization: Bearer T" get 401

Tools: echo(text), add(a, b), fail() (raises), slow(seconds), pid() (this process's id, so a test
can check that the client really ended it). `--tag` is ignored: it makes the command line unique."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

from mcp.server.fastmcp import FastMCP

mcp = FastMCP("echo")


@mcp.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@mcp.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@mcp.tool()
def fail() -> str:
    """Always fails."""
    raise RuntimeError("this tool always fails")


@mcp.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@mcp.tool()
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


def _serve_http(token: str | None) -> None:
    import uvicorn
    from starlette.responses import PlainTextResponse

    inner = mcp.streamable_http_app()

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        # A plain ASGI guard: the bearer token, when one is set, on every HTTP request.
        if token and scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization", b"").decode() != f"Bearer {token}":
                await PlainTextResponse("unauthorized", status_code=401)(scope, receive, send)
                return
        await inner(scope, receive, send)

    # Bind first so the port we print is the one we serve (port 0 = any free port).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    if args.port is None:
        mcp.run("stdio")
    else:
        _serve_http(args.token)
    sys.exit(0)


if __name__ == "__main__":
    main()
