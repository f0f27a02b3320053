"""MCPManager against a real MCP server (tests/peers/mcp_echo_server.py) over stdio and HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hermes_gateway.agent.mcp_tools import MCPManager, tool_name
from hermes_gateway.agent.services import AgentServices
from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError
from hermes_gateway.home import HermesHome
from tests.peers.fixtures import start_peer

SERVER = Path(__file__).parent / "peers" / "mcp_echo_server.py"
BOUND = 30.0  # every manager operation finishes well within this, or the test fails


def echo_config(tag: str = "", **extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVER), "--tag", tag], **extra}


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    services = AgentServices(home=HermesHome(tmp_path / "home").ensure())
    return ToolContext(services=services, session_key="console:dm:local", cwd=tmp_path / "work")


@pytest.fixture
async def managers() -> AsyncIterator[Callable[..., MCPManager]]:
    made: list[MCPManager] = []

    def make(servers: dict[str, Any], **kwargs: Any) -> MCPManager:
        kwargs.setdefault("connect_timeout", 15.0)
        manager = MCPManager(servers, **kwargs)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await asyncio.wait_for(manager.close(), BOUND)


async def started(manager: MCPManager) -> list[str]:
    return await asyncio.wait_for(manager.start(), BOUND)


def by_name(manager: MCPManager) -> dict[str, Tool]:
    return {tool.name: tool for tool in manager.tools()}


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


async def test_start_lists_each_server_tool_with_prefixed_name_and_schema(managers) -> None:
    manager = managers({"echo": echo_config()})
    assert await started(manager) == ["✅ echo: 5 tools"]
    tools = by_name(manager)
    assert set(tools) == {"mcp_echo_echo", "mcp_echo_add", "mcp_echo_fail", "mcp_echo_slow",
                          "mcp_echo_pid"}  # fmt: skip
    add = tools["mcp_echo_add"]
    assert add.emoji == "🔌"
    assert add.description == "Add two integers."
    assert add.parameters["type"] == "object"
    assert set(add.parameters["properties"]) == {"a", "b"}
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.schema()["function"]["name"] == "mcp_echo_add"
    assert tools["mcp_echo_echo"].preview({"text": "hello\nworld"}) == "hello world"


async def test_calls_return_the_servers_text(managers, ctx) -> None:
    manager = managers({"echo": echo_config()})
    await started(manager)
    tools = by_name(manager)
    assert await tools["mcp_echo_echo"].run({"text": "héllo"}, ctx) == "héllo"
    assert await tools["mcp_echo_add"].run({"a": 2, "b": 40}, ctx) == "42"


async def test_a_failing_tool_raises_tool_error_with_the_servers_message(managers, ctx) -> None:
    manager = managers({"echo": echo_config()})
    await started(manager)
    with pytest.raises(ToolError, match="this tool always fails"):
        await by_name(manager)["mcp_echo_fail"].run({}, ctx)


async def test_a_call_past_the_timeout_raises_tool_error_and_the_server_stays_usable(
    managers, ctx
) -> None:
    manager = managers({"echo": echo_config()}, call_timeout=0.5)
    await started(manager)
    tools = by_name(manager)
    with pytest.raises(ToolError, match=r"did not answer slow within 0\.5 s"):
        await asyncio.wait_for(tools["mcp_echo_slow"].run({"seconds": 3}, ctx), BOUND)
    assert await tools["mcp_echo_echo"].run({"text": "still here"}, ctx) == "still here"


async def test_a_missing_command_is_one_line_and_the_other_servers_still_work(
    managers, ctx
) -> None:
    manager = managers(
        {
            "github": {"command": "/nonexistent/mcp-github", "env": {"GITHUB_TOKEN": "ghp_s3cr3t"}},
            "echo": echo_config(),
        }
    )
    lines = await started(manager)
    assert lines[1] == "✅ echo: 5 tools"
    assert lines[0].startswith("❌ github: command not found: /nonexistent/mcp-github")
    assert "ghp_s3cr3t" not in "".join(lines)
    assert all(name.startswith("mcp_echo_") for name in by_name(manager))
    assert await by_name(manager)["mcp_echo_echo"].run({"text": "ok"}, ctx) == "ok"


async def test_bad_entries_are_reported_as_lines_not_exceptions(managers) -> None:
    manager = managers(
        {
            "empty": {},
            "both": {"command": "x", "url": "http://127.0.0.1:1/mcp"},
            "text": "npx something",
            "args": {"command": "x", "args": "not a list"},
            "off": {"command": "x", "enabled": False},
            "slowpoke": {"command": "x", "timeout": "soon"},
        }
    )
    assert await started(manager) == [
        "❌ empty: expected 'command' or 'url'",
        "❌ both: has both 'command' and 'url'; keep one",
        "❌ text: expected a mapping with 'command' or 'url'",
        "❌ args: 'args' must be a list",
        "⏸️ off: disabled in config",
        "❌ slowpoke: 'timeout' must be a number of seconds above 0",
    ]
    assert manager.tools() == []


async def test_a_server_that_exits_at_start_reports_its_last_stderr_line_without_secrets(
    managers,
) -> None:
    crash = "import sys; sys.stderr.write('boom: key sk-live-abcdef rejected\\n'); sys.exit(3)"
    config = {"command": sys.executable, "args": ["-c", crash], "env": {"KEY": "sk-live-abcdef"}}
    manager = managers({"broken": config})
    [line] = await started(manager)
    assert line.startswith("❌ broken: ")
    assert "boom: key *** rejected" in line
    assert "sk-live-abcdef" not in line


async def test_a_server_that_never_answers_times_out_and_its_process_is_ended(
    managers, tmp_path
) -> None:
    pid_file = tmp_path / "hang.pid"
    hang = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    manager = managers(
        {"hang": {"command": sys.executable, "args": ["-c", hang]}, "echo": echo_config()},
        connect_timeout=2.0,
    )
    lines = await started(manager)
    assert lines[0].startswith("❌ hang: no answer within 2 s")
    assert lines[1] == "✅ echo: 5 tools"
    assert not process_alive(int(pid_file.read_text()))
    assert manager.live_tasks() == 1  # only echo's runner


async def test_reload_replaces_the_servers_and_their_tools(managers, ctx) -> None:
    manager = managers({"one": echo_config("one")})
    await started(manager)
    old_pid = int(await by_name(manager)["mcp_one_pid"].run({}, ctx))
    lines = await asyncio.wait_for(
        manager.reload({"two": echo_config("two"), "bad": {"url": ""}}), BOUND
    )
    assert lines == ["✅ two: 5 tools", "❌ bad: expected 'command' or 'url'"]
    tools = by_name(manager)
    assert "mcp_one_echo" not in tools
    assert await tools["mcp_two_echo"].run({"text": "new"}, ctx) == "new"
    assert not process_alive(old_pid)


async def test_close_ends_the_server_process_and_leaves_no_live_tasks(managers, ctx) -> None:
    manager = managers({"echo": echo_config()})
    await started(manager)
    echo = by_name(manager)["mcp_echo_echo"]
    pid = int(await by_name(manager)["mcp_echo_pid"].run({}, ctx))
    assert process_alive(pid)
    await asyncio.wait_for(manager.close(), BOUND)
    assert not process_alive(pid)
    assert manager.live_tasks() == 0
    assert manager.tools() == []
    with pytest.raises(ToolError, match="not connected"):
        await echo.run({"text": "late"}, ctx)


async def test_a_server_that_dies_mid_session_gives_tool_errors_until_reload(managers, ctx) -> None:
    manager = managers({"echo": echo_config()})
    await started(manager)
    pid = int(await by_name(manager)["mcp_echo_pid"].run({}, ctx))
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ToolError, match="reload-mcp"):
        await asyncio.wait_for(by_name(manager)["mcp_echo_echo"].run({"text": "x"}, ctx), BOUND)
    assert await asyncio.wait_for(manager.reload({"echo": echo_config()}), BOUND) == [
        "✅ echo: 5 tools"
    ]
    assert await by_name(manager)["mcp_echo_echo"].run({"text": "back"}, ctx) == "back"


async def test_streamable_http_server_with_auth_header(managers, ctx) -> None:
    peer = start_peer("tests.peers.mcp_echo_server", "--token", "tok-9f8e7d")
    try:
        url = f"{peer.url}/mcp"
        manager = managers(
            {
                "web": {"url": url, "headers": {"Authorization": "Bearer tok-9f8e7d"}},
                "denied": {"url": url, "headers": {"Authorization": "Bearer wrong-token"}},
            }
        )
        lines = await started(manager)
        assert lines[0] == "✅ web: 5 tools"
        assert lines[1].startswith("❌ denied: ")
        assert "401" in lines[1]
        assert "wrong-token" not in lines[1]
        assert await by_name(manager)["mcp_web_add"].run({"a": 1, "b": 2}, ctx) == "3"
        await asyncio.wait_for(manager.close(), BOUND)
    finally:
        peer.stop()


async def test_unreachable_http_server_is_one_clear_line(managers) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    manager = managers({"gone": {"url": f"http://127.0.0.1:{port}/mcp?api_key=abc123"}})
    [line] = await started(manager)
    assert line == f"❌ gone: cannot connect to http://127.0.0.1:{port}"
    assert "abc123" not in line


def test_tool_names_are_sanitized_and_at_most_64_characters() -> None:
    assert tool_name("my server", "read.file") == "mcp_my_server_read_file"
    long_a, long_b = tool_name("s", "x" * 80 + "a"), tool_name("s", "x" * 80 + "b")
    assert len(long_a) == len(long_b) == 64
    assert long_a != long_b
    assert all(c.isalnum() or c in "_-" for c in long_a)
