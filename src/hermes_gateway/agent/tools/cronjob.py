"""`cronjob`: the agent creates, lists, pauses, resumes, removes and runs scheduled jobs."""

from __future__ import annotations

import time
from typing import Any

from hermes_gateway.agent.tools.base import Tool, ToolContext, ToolError, first_line
from hermes_gateway.scheduler.cron import CronError, CronOrigin, CronService, describe_job

ACTIONS = ("create", "list", "remove", "pause", "resume", "run")


async def _cronjob(args: dict[str, Any], ctx: ToolContext) -> str:
    cron = ctx.services.cron
    if cron is None:
        raise ToolError("cron jobs are not available here (the scheduler is not running)")
    action = str(args.get("action", "")).strip().lower()
    if action not in ACTIONS:
        raise ToolError(f"unknown action {action!r}: expected one of {', '.join(ACTIONS)}")
    try:
        if action == "create":
            return _create(cron, args, ctx)
        if action == "list":
            return cron.format_list()
        job_id = str(args.get("job_id", "")).strip()
        if not job_id:
            raise ToolError(f"action {action!r} needs a job_id (action 'list' shows them)")
        if action == "remove":
            job = cron.get(job_id)
            cron.remove(job.id)
            return f'Removed cron job {job.id} "{job.name}".'
        if action == "pause":
            job = cron.pause(job_id)
            return f'Paused cron job {job.id} "{job.name}". Resume it with action "resume".'
        if action == "resume":
            job = cron.resume(job_id)
            return f'Resumed cron job {job.id} "{job.name}"; next run {_when(job.next_run)}.'
        output = await cron.run_now(job_id)
        job = cron.get(job_id)
        where = job.describe_target()
        sent = f"delivered to {where}"
        if job.pending_output:
            sent = f"NOT delivered to {where} yet ({job.last_error}); it will be retried"
        return f'Ran cron job {job.id} "{job.name}"; the result was {sent}.\n\n{output}'
    except CronError as exc:
        raise ToolError(str(exc)) from None


def _create(cron: CronService, args: dict[str, Any], ctx: ToolContext) -> str:
    origin = None
    if ctx.source is not None:
        s = ctx.source
        origin = CronOrigin(str(getattr(s.platform, "value", s.platform)), s.chat_id, s.thread_id)
    for field in ("schedule", "prompt"):
        if not str(args.get(field, "")).strip():
            raise ToolError(f"action 'create' needs a {field}")
    job = cron.add(
        name=str(args.get("name", "")),
        schedule=str(args["schedule"]),
        prompt=str(args["prompt"]),
        deliver=str(args.get("deliver") or "origin"),
        origin=origin,
    )
    return (
        f'Created cron job {job.id} "{job.name}": {describe_job(job)}. '
        f"Next run {_when(job.next_run)}; results go to {job.describe_target()}."
    )


def _when(t: float | None) -> str:
    return "—" if t is None else time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(t))


def _preview(args: dict[str, Any]) -> str:
    action = str(args.get("action", ""))
    if action == "create":
        return first_line(f"create {args.get('name') or ''} ({args.get('schedule', '')})", 60)
    return first_line(f"{action} {args.get('job_id', '')}".strip(), 60)


cronjob = Tool(
    name="cronjob",
    description=(
        "Schedule a prompt to run later or repeatedly; each run is a fresh agent run with no chat "
        "history, and its result is sent to a chat. Actions: create (schedule, prompt, optional "
        "name and deliver), list, remove / pause / resume / run (job_id)."
    ),
    parameters={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "name": {"type": "string", "description": "a short name for the job"},
            "schedule": {
                "type": "string",
                "description": (
                    "cron expression in local time ('0 9 * * *' = daily 09:00), an interval "
                    "('every 30m', 'every 2h', 'every 1d'), a delay for one run ('30m', '2h') "
                    "or an ISO time for one run ('2026-12-01T09:00')"
                ),
            },
            "prompt": {
                "type": "string",
                "description": "self-contained instructions for each run (it sees no history)",
            },
            "deliver": {
                "type": "string",
                "description": (
                    "where results go: 'origin' (this chat, default), 'home:<platform>' (that "
                    "platform's home channel) or '<platform>:<chat_id>'"
                ),
            },
            "job_id": {"type": "string", "description": "cron_xxxxxx, for remove/pause/resume/run"},
        },
        "required": ["action"],
    },
    emoji="⏰",
    run=_cronjob,
    preview=_preview,
    concurrent=False,
)

TOOLS = [cronjob]
