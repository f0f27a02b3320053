"""MCP servers (config `mcp_servers`) as agent tools.

Each server lives in one runner task: the library's transport and ClientSession are anyio context
managers that must be entered and exited in the same task, so the runner enters them on an
AsyncExitStack, reports ready, and waits for its stop event. Tool calls come from other tasks and
only send requests on the session. A server that fails never blocks the others, and every line or
error we return has the server's `env` / `headers` values redacted."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import tempfile
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError, first_line

MAX_NAME = 64  # OpenAI-style function names: [a-zA-Z0-9_-]{1,64}
MAX_OUTPUT = 50_000  # characters of one tool result handed to the model
GONE_CHECK = 0.25  # seconds between checks that a called server is still there
STOP_TIMEOUT = 10.0  # the library gives a stdio server 2 s after stdin closes, then SIGTERM/KILL


class ConfigProblem(ValueError):
    """A server entry we cannot use; str(e) is the user-facing reason."""


class _StartFailed(Exception):
    """A server did not come up; str(e) is the (redacted) reason."""


def tool_name(server: str, tool: str) -> str:
    """`mcp_<server>_<tool>`, other characters as `_`; too long → cut + a hash (stays unique)."""
    full = re.sub(r"[^a-zA-Z0-9_-]", "_", f"mcp_{server}_{tool}")
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:8]
    return f"{full[: MAX_NAME - 9]}_{digest}"


@dataclass
class _Server:
    name: str
    config: Mapping[str, Any]
    connect_timeout: float
    call_timeout: float
    secrets: list[str]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    task: asyncio.Task[None] | None = None
    session: Any = None  # mcp.ClientSession while connected
    inbound: Any = None  # the session's read stream: its writer closes when the transport ends
    tools: list[Any] = field(default_factory=list)  # mcp.types.Tool
    stderr: IO[str] | None = None

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _secrets(config: Mapping[str, Any]) -> list[str]:
    values = [*dict(config.get("env") or {}).values(), *dict(config.get("headers") or {}).values()]
    if config.get("url"):  # a token may also ride in the URL: user:password@ or ?key=value
        url = urlsplit(str(config["url"]))
        values += [url.password or "", *(v for _, v in parse_qsl(url.query))]
    # Also the bare token of "Bearer xyz"; longest first so a prefix never leaves a tail behind.
    parts = [p for v in values for p in (str(v), *str(v).split()) if len(p) >= 4]
    return sorted(set(parts), key=len, reverse=True)


def _validate(config: Any) -> None:
    if not isinstance(config, Mapping):
        raise ConfigProblem("expected a mapping with 'command' or 'url'")
    has_cmd, has_url = bool(config.get("command")), bool(config.get("url"))
    if has_cmd == has_url:
        raise ConfigProblem(
            "expected 'command' or 'url'"
            if not has_cmd
            else "has both 'command' and 'url'; keep one"
        )
    if not isinstance(config.get("args", []), list):
        raise ConfigProblem("'args' must be a list")
    for key in ("env", "headers"):
        if not isinstance(config.get(key) or {}, Mapping):
            raise ConfigProblem(f"'{key}' must be a mapping")
    for key in ("timeout", "connect_timeout"):
        value = config.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigProblem(f"'{key}' must be a number of seconds above 0")


def _root_error(exc: BaseException) -> BaseException:
    # anyio task groups wrap the real failure in (nested) exception groups.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class MCPManager:
    def __init__(
        self,
        servers: Mapping[str, Mapping[str, Any]],
        *,
        connect_timeout: float = 20.0,
        call_timeout: float = 120.0,
        log_dir: Path | None = None,  # servers' stderr as mcp-<name>.log; None = a temp file
    ) -> None:
        self._config = dict(servers or {})
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.log_dir = log_dir
        self._servers: dict[str, _Server] = {}
        self._tools: list[Tool] | None = None

    async def start(self) -> list[str]:
        """Connect to every server at once; one line per server saying how it went."""
        names = list(self._config)
        lines = await asyncio.gather(*(self._start_one(n, self._config[n]) for n in names))
        self._tools = None  # rebuilt on the next tools() call
        return list(lines)

    async def reload(self, servers: Mapping[str, Mapping[str, Any]]) -> list[str]:
        await self.close()
        self._config = dict(servers or {})
        return await self.start()

    async def close(self) -> None:
        servers, self._servers, self._tools = list(self._servers.values()), {}, None
        for srv in servers:
            srv.stop.set()
        tasks = [s.task for s in servers if s.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def live_tasks(self) -> int:
        return sum(1 for s in self._servers.values() if s.task and not s.task.done())

    def tools(self) -> list[Tool]:
        """Every connected server's tools (computed once per start/reload)."""
        if self._tools is None:
            seen: set[str] = set()
            self._tools = []
            for srv in self._servers.values():
                for mcp_tool in srv.tools:
                    tool = self._make_tool(srv, mcp_tool)
                    if tool.name not in seen:
                        seen.add(tool.name)
                        self._tools.append(tool)
        return list(self._tools)

    # --- one server --------------------------------------------------------------------------

    async def _start_one(self, name: str, config: Any) -> str:
        try:
            _validate(config)
        except ConfigProblem as exc:
            return f"❌ {name}: {exc}"
        if config.get("enabled") is False or config.get("disabled") is True:
            return f"⏸️ {name}: disabled in config"
        srv = _Server(
            name,
            config,
            float(config.get("connect_timeout", self.connect_timeout)),
            float(config.get("timeout", self.call_timeout)),
            _secrets(config),
        )
        self._servers[name] = srv
        srv.task = asyncio.create_task(self._run(srv), name=f"mcp:{name}")
        done, _ = await asyncio.wait(
            {srv.ready, srv.task}, timeout=srv.connect_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if srv.ready.done() and not srv.ready.cancelled() and srv.ready.exception() is None:
            count = len(srv.tools)
            return f"✅ {name}: {count} tool{'' if count == 1 else 's'}"
        if not done:
            reason = f"no answer within {srv.connect_timeout:g} s ({self._hint(srv)})"
        else:
            exc = srv.ready.exception() if srv.ready.done() else None
            reason = str(exc) if exc else "the connection ended during start-up"
        self._servers.pop(name, None)
        srv.stop.set()
        srv.task.cancel()
        await asyncio.gather(srv.task, return_exceptions=True)
        return f"❌ {name}: {srv.redact(reason)}"

    async def _run(self, srv: _Server) -> None:
        from mcp import ClientSession

        try:
            async with AsyncExitStack() as stack:
                read, write = await self._open_transport(srv, stack)
                srv.inbound = read
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                srv.tools = await _list_tools(session)
                srv.session = session
                srv.ready.set_result(None)
                await srv.stop.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # anyio may raise groups; each failure becomes one reason
            if not srv.ready.done():
                srv.ready.set_exception(_StartFailed(self._reason(srv, _root_error(exc))))
        finally:
            srv.session = None
            if srv.stderr is not None:
                srv.stderr.close()

    async def _open_transport(self, srv: _Server, stack: AsyncExitStack) -> tuple[Any, Any]:
        cfg = srv.config
        if cfg.get("command"):
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(
                command=str(cfg["command"]),
                args=[str(a) for a in cfg.get("args") or []],
                env={str(k): str(v) for k, v in (cfg.get("env") or {}).items()} or None,
                cwd=str(Path(str(cfg["cwd"])).expanduser()) if cfg.get("cwd") else None,
            )
            srv.stderr = self._stderr_file(srv.name)
            read, write = await stack.enter_async_context(stdio_client(params, errlog=srv.stderr))
            return read, write
        from mcp.shared._httpx_utils import create_mcp_http_client

        url = str(cfg["url"])
        headers = {str(k): str(v) for k, v in (cfg.get("headers") or {}).items()}
        if cfg.get("transport") == "sse" or urlsplit(url).path.rstrip("/").endswith("/sse"):
            from mcp.client.sse import sse_client

            read, write = await stack.enter_async_context(sse_client(url, headers=headers))
            return read, write
        from mcp.client.streamable_http import streamable_http_client

        client = await stack.enter_async_context(create_mcp_http_client(headers=headers))
        read, write, _ = await stack.enter_async_context(
            streamable_http_client(url, http_client=client)
        )
        return read, write

    def _stderr_file(self, name: str) -> IO[str]:
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
            path = self.log_dir / f"mcp-{safe}.log"
            return open(path, "a+", encoding="utf-8", errors="replace")  # noqa: SIM115
        return tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115

    def _hint(self, srv: _Server) -> str:
        if srv.config.get("command"):
            return f"check that `{srv.config['command']}` starts an MCP server on stdio"
        return f"check that {_host(str(srv.config['url']))} serves MCP"

    def _reason(self, srv: _Server, exc: BaseException) -> str:
        cfg = srv.config
        if isinstance(exc, FileNotFoundError) and cfg.get("command"):
            return f"command not found: {cfg['command']} (install it or fix mcp_servers.{srv.name})"
        if isinstance(exc, PermissionError) and cfg.get("command"):
            return f"command not executable: {cfg['command']}"
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status is not None:
            what = " (check its headers / token)" if status in (401, 403) else ""
            return f"{_host(str(cfg['url']))} answered HTTP {status}{what}"
        if type(exc).__name__ in ("ConnectError", "ConnectTimeout"):
            return f"cannot connect to {_host(str(cfg['url']))}"
        closed = ("BrokenResourceError", "ClosedResourceError", "EndOfStream")
        if type(exc).__name__ in closed or "Connection closed" in str(exc):
            detail = "the server stopped during start-up"
        else:
            detail = first_line(str(exc) or type(exc).__name__, 160)
        tail = self._stderr_tail(srv)
        return f"{detail}; its last output: {tail}" if tail else detail

    def _stderr_tail(self, srv: _Server) -> str:
        if srv.stderr is None or srv.stderr.closed:
            return ""
        with contextlib.suppress(OSError, ValueError):
            srv.stderr.flush()
            size = srv.stderr.seek(0, 2)
            srv.stderr.seek(max(0, size - 4000))
            lines = [ln for ln in srv.stderr.read().splitlines() if ln.strip()]
            return first_line(lines[-1], 160) if lines else ""
        return ""

    # --- tools -------------------------------------------------------------------------------

    def _make_tool(self, srv: _Server, mcp_tool: Any) -> Tool:
        remote = mcp_tool.name

        async def run(args: dict[str, Any], ctx: ToolContext) -> str:
            return await self._call(srv, remote, args)

        schema = dict(mcp_tool.inputSchema or {}) or {"type": "object", "properties": {}}
        return Tool(
            name=tool_name(srv.name, remote),
            description=(mcp_tool.description or f"{remote} (MCP server {srv.name})").strip(),
            parameters=schema,
            emoji="🔌",
            run=run,
            preview=lambda args: first_line(str(next(iter(args.values()), ""))) if args else "",
        )

    async def _call(self, srv: _Server, remote: str, args: dict[str, Any]) -> str:
        from mcp.shared.exceptions import McpError
        from mcp.types import CONNECTION_CLOSED

        session = srv.session
        if session is None or srv.stop.is_set() or _transport_gone(srv):
            raise ToolError(f"MCP server '{srv.name}' is not connected; /reload-mcp reconnects it")
        timeout = timedelta(seconds=srv.call_timeout)
        try:
            result = await _unless_gone(
                srv, session.call_tool(remote, args or {}, read_timeout_seconds=timeout)
            )
        except McpError as exc:
            if exc.error.code == 408:
                raise ToolError(
                    f"MCP server '{srv.name}' did not answer {remote} within {srv.call_timeout:g} s"
                ) from None
            msg = f"MCP server '{srv.name}': {exc.error.message}"
            if exc.error.code == CONNECTION_CLOSED:
                msg += "; /reload-mcp reconnects it"
            raise ToolError(srv.redact(msg)) from None
        except Exception as exc:  # the transport failed (server gone, network)
            msg = f"MCP server '{srv.name}' failed: {first_line(str(exc) or type(exc).__name__)}"
            raise ToolError(srv.redact(msg) + "; /reload-mcp reconnects it") from None
        text = _render(result)
        if result.isError:
            raise ToolError(srv.redact(text) or f"{remote} failed without a message")
        return text or "(no output)"


def _transport_gone(srv: _Server) -> bool:
    """True once the server's output has ended (it exited or the connection dropped): a request
    sent then would wait for its whole read timeout, as the library never answers it."""
    stats = getattr(srv.inbound, "statistics", None)
    return stats is not None and stats().open_send_streams == 0


async def _unless_gone(srv: _Server, call: Any) -> Any:
    """Run a call, failing fast if the transport ends while it waits."""
    task = asyncio.ensure_future(call)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=GONE_CHECK)
            if not task.done() and _transport_gone(srv):
                raise ConnectionError("the server went away")
        return task.result()
    finally:
        if not task.done():
            task.cancel()


async def _list_tools(session: Any) -> list[Any]:
    from mcp import types

    tools, cursor = [], None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            return tools


def _render(result: Any) -> str:
    """Text blocks joined; anything else described in one line (the model cannot see bytes)."""
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(block.data) * 3 // 4  # base64 → bytes, near enough
            parts.append(f"[{kind}: {block.mimeType}, about {size} bytes]")
        elif kind == "resource_link":
            parts.append(f"[resource link: {block.name} {block.uri}]")
        elif kind == "resource":
            res = block.resource
            text = getattr(res, "text", None)
            # Embedded text is real content the model can read; blobs are only described.
            parts.append(text if text is not None else f"[resource: {res.uri} ({res.mimeType})]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    if not parts and result.structuredContent is not None:
        parts.append(json.dumps(result.structuredContent, ensure_ascii=False))
    text = "\n".join(parts)
    if len(text) > MAX_OUTPUT:
        text = text[:MAX_OUTPUT] + f"\n… ({len(text) - MAX_OUTPUT} more characters cut)"
    return text


def _host(url: str) -> str:
    # Only scheme://host:port — a path or query may carry a token.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts.netloc else "the url"
