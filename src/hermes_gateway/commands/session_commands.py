"""Commands that steer the chat's session: /new, /stop, /status, /title, /resume, /undo, /retry."""

from __future__ import annotations

import time
from datetime import datetime

from hermes_gateway.commands.registry import CommandContext
from hermes_gateway.core.turns import Pending
from hermes_gateway.core.types import InboundMessage, message_from_payload

TITLE_MAX = 80


async def new_session(ctx: CommandContext) -> str:
    engine = ctx.engine
    stopped = engine.stop_session(ctx.key)
    engine.approvals.clear_session(ctx.key)
    engine.sessions.start_new(ctx.message.source, ctx.key, "new")
    prefix = "⏹ Stopped the running reply. " if stopped else ""
    return f"{prefix}✨ New session started. Earlier messages are forgotten (/resume brings them back)."


async def stop(ctx: CommandContext) -> str:
    if ctx.engine.stop_session(ctx.key):
        return "⏹ Stopped."
    return "Nothing is running."


async def status(ctx: CommandContext) -> str:
    engine = ctx.engine
    session = engine.store.session_current(ctx.key)
    tasks = [f"  {t.id} {t.state}: {t.title}" for t in engine.background.list(ctx.key)]
    tasks_text = ("\nBackground tasks:\n" + "\n".join(tasks)) if tasks else ""
    if session is None:
        return "No session yet: send a message to start one." + tasks_text
    lane = engine.lanes.get(ctx.key)
    state = "running" if lane and lane.busy else "idle"
    if lane and lane.pending:
        state += f", {len(lane.pending)} message(s) waiting"
    target = engine.runtime.resolved(session.model)
    turns = len([e for e in engine.store.transcript(session.id) if e.role == "user"])
    src = ctx.message.source
    policy = engine.settings.reset_policy_for(src.platform.value, src.chat_type.value)
    return (
        "\n".join(
            [
                f"Session {session.id}" + (f" — “{session.title}”" if session.title else ""),
                f"State: {state}",
                f"Model: {target.provider}:{target.model}",
                f"Turns: {turns} · tokens in {session.input_tokens}, out {session.output_tokens}",
                f"Started: {_when(session.created_at)} · last active {_when(session.last_active)}",
                f"Reset policy: {_policy(policy)}",
            ]
        )
        + tasks_text
    )


async def title(ctx: CommandContext) -> str:
    session = ctx.engine.store.session_current(ctx.key)
    if session is None:
        return "No session yet: send a message first."
    if not ctx.args:
        return (
            f"Title: {session.title}"
            if session.title
            else "This session has no title. /title <name> sets one."
        )
    name = " ".join(ctx.args.split())[:TITLE_MAX]
    ctx.engine.store.session_update(session.id, title=name)
    return f"📝 Title set: {name}"


async def resume(ctx: CommandContext) -> str:
    session = ctx.engine.sessions.resume(ctx.key, ctx.args)
    if session is None:
        if ctx.args:
            return f"No earlier session in this chat is called “{ctx.args}”."
        return "There is no earlier session in this chat to resume."
    label = f"“{session.title}”" if session.title else session.id
    return f"↩️ Resumed session {label}."


async def undo(ctx: CommandContext) -> str:
    session = ctx.engine.store.session_current(ctx.key)
    removed = ctx.engine.store.transcript_drop_last_turn(session.id) if session else []
    if not removed:
        return "Nothing to undo."
    return f"↩️ Removed the last exchange (“{_preview(removed[0].content)}”)."


async def retry(ctx: CommandContext) -> str | None:
    engine = ctx.engine
    failed = engine.store.inbox_failed_batch(ctx.key)
    if failed:
        engine.store.inbox_finish([r.id for r in failed], "pending", engine.clock())
        for row in failed:
            engine.submit(ctx.key, Pending(row.id, message_from_payload(row.payload)))
        return None
    session = engine.store.session_current(ctx.key)
    removed = engine.store.transcript_drop_last_turn(session.id) if session else []
    prompt = next((e.content for e in removed if e.role == "user"), "")
    if not prompt:
        return "Nothing to retry."
    again = InboundMessage(
        source=ctx.message.source, message_id=f"retry-{time.time_ns()}", text=prompt
    )
    engine.submit(ctx.key, Pending(None, again))
    return None


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _policy(policy) -> str:
    if policy.mode == "none":
        return "never resets"
    parts = []
    if policy.mode in ("daily", "both"):
        parts.append(f"daily at {policy.at_hour:02d}:00")
    if policy.mode in ("idle", "both"):
        parts.append(f"after {policy.idle_minutes} idle minutes")
    return " or ".join(parts)


def _preview(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
