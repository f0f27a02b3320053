"""The terminal tool: run a shell command in the session's working directory.

Foreground commands are awaited (with a timeout) and their output returned; background commands
go to the process manager, which watches them and reports back to the chat. Every command passes
the dangerous-command check first. An interrupt cancels the call, which stops the whole process
group (scheduler.shell.run_foreground)."""

from __future__ import annotations

import signal
from typing import Any

from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError, first_line
from hermes_gateway.scheduler.shell import run_foreground

DEFAULT_TIMEOUT = 120
MAX_TIMEOUT = 600


async def check_approval(command: str, ctx: ToolContext) -> None:
    """Ask the approval manager; a denial raises a ToolError subclass that we let through."""
    approvals = ctx.services.approvals
    if approvals is None:
        return
    source = ctx.source
    await approvals.check(
        command,
        session_key=ctx.session_key,
        platform=str(source.platform) if source else "",
        chat_id=source.chat_id if source else "",
        thread_id=source.thread_id if source else "",
        unattended=ctx.unattended,
    )


def _timeout(args: dict[str, Any]) -> float:
    value = args.get("timeout", DEFAULT_TIMEOUT)
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolError(f"`timeout` must be a number of seconds (1 to {MAX_TIMEOUT}).")
    return float(min(max(value, 1), MAX_TIMEOUT))


def _exit_phrase(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"ended by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"ended by signal {-code}"
    return f"exit code {code}"


async def _run(args: dict[str, Any], ctx: ToolContext) -> str:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ToolError("`command` must be a non-empty shell command.")
    background = args.get("background", False)
    if not isinstance(background, bool):
        raise ToolError("`background` must be true or false.")
    timeout = _timeout(args)
    await check_approval(command, ctx)
    try:
        ctx.cwd.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolError(f"Cannot create the working directory {ctx.cwd}: {exc.strerror}.") from None

    if background:
        processes = ctx.services.processes
        if processes is None:
            raise ToolError(
                "Background processes are not available here; run the command without "
                "background=true."
            )
        try:
            info = await processes.start(
                command, cwd=ctx.cwd, session_key=ctx.session_key, origin=ctx.source
            )
        except OSError as exc:
            raise ToolError(f"Could not start the shell: {exc}.") from None
        return (
            f"Started {info.id} (pid {info.pid}). Use the process tool to poll, read the log, "
            "wait or kill it."
        )

    runner = ctx.services.processes.run_foreground if ctx.services.processes else run_foreground
    try:
        code, output, timed_out = await runner(command, cwd=ctx.cwd, timeout=timeout)
    except OSError as exc:
        raise ToolError(f"Could not start the shell: {exc}.") from None
    body = output if output.strip() else "(no output)"
    if timed_out:
        return (
            f"timed out after {timeout:g} s; the command and its children were stopped. "
            f"For long-running commands use background=true.\n{body}"
        )
    return f"{_exit_phrase(code)}\n{body}"


def _preview(args: dict[str, Any]) -> str:
    lines = str(args.get("command", "")).strip().splitlines()
    return first_line(lines[0], 80) if lines else ""


TERMINAL = Tool(
    name="terminal",
    description=(
        "Run a shell command in the session's working directory and return its exit code and "
        "combined stdout/stderr (the last 50 KB). There is no stdin, so interactive prompts fail: "
        "pass flags such as -y. For servers, watchers and long builds set background=true, then "
        "use the process tool to poll, read the log, wait for or kill it."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The shell command (bash syntax)."},
            "background": {
                "type": "boolean",
                "description": "Run in the background and return at once with a process id.",
                "default": False,
            },
            "timeout": {
                "type": "number",
                "description": (
                    f"Foreground time limit in seconds (default {DEFAULT_TIMEOUT}, "
                    f"max {MAX_TIMEOUT}); the command and its children are stopped after it."
                ),
                "default": DEFAULT_TIMEOUT,
                "maximum": MAX_TIMEOUT,
            },
        },
        "required": ["command"],
    },
    emoji="💻",
    run=_run,
    preview=_preview,
    concurrent=False,
)

TOOLS: list[Tool] = [TERMINAL]
