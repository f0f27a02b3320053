"""The terminal and process tools, run directly with a real ToolContext and real subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hermes_gateway.agent.services import AgentServices
from hermes_gateway.agent.tools.base import ToolContext, ToolError
from hermes_gateway.agent.tools.process import PROCESS
from hermes_gateway.agent.tools.process import TOOLS as PROCESS_TOOLS
from hermes_gateway.agent.tools.terminal import TERMINAL
from hermes_gateway.agent.tools.terminal import TOOLS as TERMINAL_TOOLS
from hermes_gateway.core.types import Platform, SessionSource
from hermes_gateway.home import HermesHome
from hermes_gateway.scheduler.processes import ProcessManager
from tests.test_processes import SPAWN_KIDS, WAIT, alive, kids_started

SESSION = "console:dm:local"


class Denied(ToolError):
    """What the approval manager raises when a command is refused."""


class Approvals:
    """A tiny approval manager: records every check and refuses `rm -rf`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    async def check(self, command: str, **kwargs) -> str:
        self.calls.append((command, kwargs))
        if "rm -rf" in command:
            raise Denied(f"Command denied: {command}")
        return "once"


@pytest.fixture
async def manager() -> AsyncIterator[ProcessManager]:
    manager = ProcessManager(notifications="off")
    yield manager
    await manager.shutdown()


@pytest.fixture
def approvals() -> Approvals:
    return Approvals()


def make_ctx(
    tmp_path: Path,
    manager: ProcessManager | None,
    approvals: Approvals | None = None,
    session_key: str = SESSION,
    source: SessionSource | None = None,
) -> ToolContext:
    services = AgentServices(
        home=HermesHome(tmp_path / "home").ensure(), processes=manager, approvals=approvals
    )
    return ToolContext(
        services=services, session_key=session_key, cwd=tmp_path / "work", source=source
    )


@pytest.fixture
def ctx(tmp_path: Path, manager: ProcessManager, approvals: Approvals) -> ToolContext:
    return make_ctx(tmp_path, manager, approvals)


def test_modules_expose_their_tools() -> None:
    assert TERMINAL_TOOLS == [TERMINAL] and PROCESS_TOOLS == [PROCESS]
    assert (TERMINAL.name, TERMINAL.emoji, TERMINAL.concurrent) == ("terminal", "💻", False)
    assert (PROCESS.name, PROCESS.emoji, PROCESS.concurrent) == ("process", "⚙️", False)
    assert TERMINAL.parameters["required"] == ["command"]


def test_previews_show_the_command_and_the_action() -> None:
    assert TERMINAL.preview({"command": "ls -la\necho second line"}) == "ls -la"
    assert len(TERMINAL.preview({"command": "x" * 200})) == 80
    assert PROCESS.preview({"action": "kill", "process_id": "proc_ab12cd"}) == "kill proc_ab12cd"
    assert PROCESS.preview({"action": "list"}) == "list"


async def test_terminal_runs_in_the_session_directory_and_reports_the_exit_code(
    ctx: ToolContext,
) -> None:
    result = await TERMINAL.run({"command": "pwd; echo oops >&2; exit 3"}, ctx)
    assert result == f"exit code 3\n{ctx.cwd}\noops\n"
    assert ctx.cwd.is_dir()  # created on first use


async def test_terminal_reports_no_output(ctx: ToolContext) -> None:
    assert await TERMINAL.run({"command": "true"}, ctx) == "exit code 0\n(no output)"


async def test_terminal_timeout_stops_the_command_and_its_children(ctx: ToolContext) -> None:
    result = await TERMINAL.run({"command": SPAWN_KIDS, "timeout": 1}, ctx)
    assert result.startswith("timed out after 1 s; the command and its children were stopped")
    kids = [int(p) for p in (ctx.cwd / "kids").read_text().split()]
    assert not any(alive(pid) for pid in kids)


async def test_interrupting_the_tool_call_leaves_no_orphans(ctx: ToolContext) -> None:
    task = asyncio.create_task(TERMINAL.run({"command": SPAWN_KIDS}, ctx))
    kids = await kids_started(ctx.cwd)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(alive(pid) for pid in kids)


async def test_terminal_asks_for_approval_with_the_chat_it_came_from(
    tmp_path: Path, manager: ProcessManager, approvals: Approvals
) -> None:
    source = SessionSource(platform=Platform.TELEGRAM, chat_id="42", user_id="7", thread_id="9")
    ctx = make_ctx(tmp_path, manager, approvals, session_key="telegram:dm:42", source=source)
    ctx.unattended = True
    await TERMINAL.run({"command": "echo hi"}, ctx)
    assert approvals.calls == [
        (
            "echo hi",
            {
                "session_key": "telegram:dm:42",
                "platform": "telegram",
                "chat_id": "42",
                "thread_id": "9",
                "unattended": True,
            },
        )
    ]


async def test_a_denied_command_never_runs(ctx: ToolContext, approvals: Approvals) -> None:
    command = "rm -rf nothing; touch ran"
    with pytest.raises(Denied, match="denied"):
        await TERMINAL.run({"command": command}, ctx)
    with pytest.raises(Denied):
        await TERMINAL.run({"command": command, "background": True}, ctx)
    assert [c for c, _ in approvals.calls] == [command, command]
    assert not (ctx.cwd / "ran").exists()


async def test_terminal_without_approvals_or_manager_still_runs_foreground(
    tmp_path: Path,
) -> None:
    ctx = make_ctx(tmp_path, None)
    assert await TERMINAL.run({"command": "echo ok"}, ctx) == "exit code 0\nok\n"
    with pytest.raises(ToolError, match="background=true"):
        await TERMINAL.run({"command": "sleep 1", "background": True}, ctx)


@pytest.mark.parametrize(
    "args",
    [
        {"command": ""},
        {"command": 5},
        {"command": "ls", "background": "yes"},
        {"command": "ls", "timeout": "x"},
    ],
)
async def test_terminal_rejects_bad_arguments(ctx: ToolContext, args: dict) -> None:
    with pytest.raises(ToolError):
        await TERMINAL.run(args, ctx)


async def test_background_command_through_poll_log_wait_and_kill(
    ctx: ToolContext, manager: ProcessManager
) -> None:
    script = "echo started; while [ ! -e go ]; do sleep 0.02; done; seq 1 5; exit 7"
    started = await TERMINAL.run({"command": script, "background": True}, ctx)
    assert started.startswith("Started proc_") and "process tool" in started
    process_id = started.split()[1]
    info = manager.get(process_id)
    assert info is not None and info.session_key == SESSION and info.cwd == str(ctx.cwd)

    listed = await PROCESS.run({"action": "list"}, ctx)
    assert process_id in listed and "running" in listed
    await asyncio.wait_for(_until_output(manager, process_id), WAIT)
    polled = await PROCESS.run({"action": "poll", "process_id": process_id}, ctx)
    assert "running" in polled and polled.endswith("started")

    still = await PROCESS.run({"action": "wait", "process_id": process_id, "timeout": 0.05}, ctx)
    assert still.startswith("Still running after waiting 0.05 s.")

    (ctx.cwd / "go").touch()
    waited = await PROCESS.run({"action": "wait", "process_id": process_id, "timeout": WAIT}, ctx)
    assert f"{process_id} exited with code 7" in waited and waited.endswith("4\n5")
    log = await PROCESS.run({"action": "log", "process_id": process_id, "lines": 3}, ctx)
    assert log.endswith("last 3 of 6 lines:\n3\n4\n5")
    again = await PROCESS.run({"action": "kill", "process_id": process_id}, ctx)
    assert again.startswith("Nothing to kill:")


async def test_process_tool_kills_a_running_process_group(
    ctx: ToolContext, manager: ProcessManager
) -> None:
    started = await TERMINAL.run({"command": SPAWN_KIDS, "background": True}, ctx)
    process_id = started.split()[1]
    kids = await kids_started(ctx.cwd)
    result = await PROCESS.run({"action": "kill", "process_id": process_id}, ctx)
    assert result.startswith(f"Killed {process_id}")
    assert not manager.has_live(SESSION)
    assert not any(alive(pid) for pid in kids)


async def test_process_tool_only_sees_its_own_session(
    tmp_path: Path, ctx: ToolContext, manager: ProcessManager
) -> None:
    started = await TERMINAL.run({"command": "sleep 300", "background": True}, ctx)
    process_id = started.split()[1]
    other = make_ctx(tmp_path, manager, session_key="telegram:dm:99")
    assert (
        await PROCESS.run({"action": "list"}, other) == "No background processes in this session."
    )
    with pytest.raises(ToolError, match="No process"):
        await PROCESS.run({"action": "kill", "process_id": process_id}, other)
    assert manager.has_live(SESSION)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"action": "poll"}, "process_id` is required"),
        ({"action": "log", "process_id": "proc_000000"}, "No process 'proc_000000'"),
        ({"action": "explode", "process_id": "proc_000000"}, "must be one of list, poll"),
    ],
)
async def test_process_tool_errors_say_what_to_do(
    ctx: ToolContext, args: dict, message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        await PROCESS.run(args, ctx)


async def test_process_tool_without_a_manager_explains(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="not available"):
        await PROCESS.run({"action": "list"}, make_ctx(tmp_path, None))


async def _until_output(manager: ProcessManager, process_id: str) -> None:
    while not manager.log(process_id):
        await asyncio.sleep(0.02)
