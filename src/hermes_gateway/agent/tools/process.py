"""The process tool: list, poll, read, wait for and kill the session's background processes.

A session sees only the processes it started: another chat's process ids are "not found", so one
chat can neither read nor stop another's work."""

from __future__ import annotations

from typing import Any

from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError, first_line
from hermes_gateway.scheduler.processes import ProcessInfo, describe

ACTIONS = ("list", "poll", "log", "wait", "kill")
DEFAULT_LINES = 100
MAX_LINES = 2000
DEFAULT_WAIT = 30
MAX_WAIT = 300
MAX_OUTPUT_CHARS = 50_000
POLL_TAIL = 20


def _number(args: dict[str, Any], name: str, default: int, low: int, high: int) -> float:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolError(f"`{name}` must be a number ({low} to {high}).")
    return min(max(value, low), high)


def _status(info: ProcessInfo, now: float) -> str:
    end = info.finished_at if info.finished_at is not None else now
    took = max(0, int(end - info.started_at))
    return f"{info.id} {describe(info)} after {took} s: `{first_line(info.command, 80)}`"


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return "[… earlier output omitted]\n" + text[-MAX_OUTPUT_CHARS:]


def _with_tail(manager: Any, info: ProcessInfo, now: float, lines: int = POLL_TAIL) -> str:
    text = manager.log(info.id, lines)
    header = _status(info, now)
    if not text:
        return f"{header}\n(no output yet)" if info.state == "running" else f"{header}\n(no output)"
    shown = text.count("\n") + 1
    return f"{header}\nlast {shown} of {info.lines} lines:\n{_clip(text)}"


async def _run(args: dict[str, Any], ctx: ToolContext) -> str:
    manager = ctx.services.processes
    if manager is None:
        raise ToolError("Background processes are not available in this gateway run.")
    action = args.get("action")
    if action not in ACTIONS:
        raise ToolError(f"`action` must be one of {', '.join(ACTIONS)}.")
    now = ctx.services.clock()  # the clock the manager stamps started_at with
    if action == "list":
        infos = manager.list(ctx.session_key)
        if not infos:
            return "No background processes in this session."
        return "\n".join(_status(info, now) for info in infos)

    info = _own_process(manager, args.get("process_id"), ctx.session_key)
    if action == "poll":
        return _with_tail(manager, info, now)
    if action == "log":
        return _with_tail(
            manager, info, now, int(_number(args, "lines", DEFAULT_LINES, 1, MAX_LINES))
        )
    if action == "wait":
        timeout = _number(args, "timeout", DEFAULT_WAIT, 0, MAX_WAIT)
        info = await manager.wait(info.id, timeout)
        result = _with_tail(manager, info, ctx.services.clock())
        if info.state == "running":
            return f"Still running after waiting {timeout:g} s.\n{result}"
        return result
    was_running = info.state == "running"
    info = await manager.kill(info.id)
    if not was_running:
        return f"Nothing to kill: {_status(info, now)}"
    return f"Killed {info.id} (its whole process group): `{first_line(info.command, 80)}`"


def _own_process(manager: Any, process_id: Any, session_key: str) -> ProcessInfo:
    if not isinstance(process_id, str) or not process_id.strip():
        raise ToolError("`process_id` is required for this action (see action=list).")
    info = manager.get(process_id.strip())
    if info is None or info.session_key != session_key:
        raise ToolError(
            f"No process {process_id!r} in this session (finished ones are kept for an hour). "
            "Use action=list to see the processes."
        )
    return info


PROCESS = Tool(
    name="process",
    description=(
        "Manage background processes started with terminal(background=true) in this session: "
        "list them; poll one (status and last lines); read its log; wait for it to finish "
        "(up to `timeout` seconds); or kill it with all its children."
    ),
    parameters={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "process_id": {
                "type": "string",
                "description": "The id from terminal, e.g. proc_ab12cd (all actions but list).",
            },
            "lines": {
                "type": "integer",
                "description": f"log: how many of the newest lines (default {DEFAULT_LINES}).",
                "default": DEFAULT_LINES,
            },
            "timeout": {
                "type": "number",
                "description": f"wait: seconds to wait (default {DEFAULT_WAIT}, max {MAX_WAIT}).",
                "default": DEFAULT_WAIT,
                "maximum": MAX_WAIT,
            },
        },
        "required": ["action"],
    },
    emoji="⚙️",
    run=_run,
    preview=lambda args: f"{args.get('action', '')} {args.get('process_id') or ''}".strip(),
    concurrent=False,
)

TOOLS: list[Tool] = [PROCESS]
