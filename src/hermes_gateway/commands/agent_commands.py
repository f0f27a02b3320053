"""Commands that steer the agent: /background, /personality, /reasoning, /compress,
/insights, /rollback, /voice, /reload-mcp, /approve, /deny."""

from __future__ import annotations

from datetime import datetime

from hermes_gateway.commands.registry import CommandContext
from hermes_gateway.core.prompts import VERDICTS

REASONING_LEVELS = ("none", "minimal", "low", "medium", "high")
VOICE_MODES = ("on", "off", "tts", "join", "leave", "status")


async def background(ctx: CommandContext) -> str:
    if not ctx.args:
        return "Usage: /background <prompt> — runs it separately and reports back here."
    task = ctx.engine.background.start(ctx.args, ctx.message.source, ctx.key)
    return f"🔄 Background task started: “{task.title}”\nTask ID: {task.id}"


async def personality(ctx: CommandContext) -> str:
    engine, name = ctx.engine, ctx.args.strip().lower()
    current = engine.store.prefs(ctx.key).get("personality", "")
    if not name:
        names = ", ".join(sorted(engine.personalities))
        now = current or "default"
        return f"Personality: {now}\nAvailable: {names}\n/personality <name> sets, /personality default resets."
    if name in ("default", "none", "off"):
        engine.store.pref_set(ctx.key, "personality", None)
        return "🎭 Personality reset to the default."
    if name not in engine.personalities:
        return f"No personality called “{name}”. Send /personality for the list."
    engine.store.pref_set(ctx.key, "personality", name)
    return f"🎭 Personality for this chat: {name}"


async def reasoning(ctx: CommandContext) -> str:
    store, arg = ctx.engine.store, ctx.args.strip().lower()
    prefs = store.prefs(ctx.key)
    if not arg:
        level = prefs.get("reasoning", "") or "provider default"
        shown = "shown" if prefs.get("show_reasoning") == "1" else "hidden"
        return f"Reasoning effort: {level}; reasoning text is {shown}.\nUsage: /reasoning [{'|'.join(REASONING_LEVELS)}|default|show|hide]"
    if arg in ("show", "hide"):
        store.pref_set(ctx.key, "show_reasoning", "1" if arg == "show" else None)
        return f"💭 Reasoning text will be {'shown' if arg == 'show' else 'hidden'}."
    if arg == "default":
        store.pref_set(ctx.key, "reasoning", None)
        return "💭 Reasoning effort back to the provider's default."
    if arg not in REASONING_LEVELS:
        return f"Unknown level “{arg}”. Choose one of {', '.join(REASONING_LEVELS)}, default, show or hide."
    store.pref_set(ctx.key, "reasoning", arg)
    return f"💭 Reasoning effort for this chat: {arg}"


async def compress(ctx: CommandContext) -> str:
    from hermes_gateway.agent.compress import compress as run

    return await run(ctx.engine, ctx.key, ctx.message.source)


async def insights(ctx: CommandContext) -> str:
    days = ctx.args.strip() or "7"
    if not days.isdigit() or not 1 <= int(days) <= 3650:
        return "Usage: /insights [days] — days between 1 and 3650."
    since = ctx.engine.clock() - int(days) * 86400
    data = ctx.engine.store.insights(since)
    if not data["model"]:
        return f"No usage in the last {days} day(s)."
    lines = [f"📊 Usage, last {days} day(s):"]
    for title, key in (("By model", "model"), ("By platform", "platform"), ("By day", "day")):
        lines.append(f"{title}:")
        lines += [f"  {n}: {t} turn(s), {i:,} in / {o:,} out" for n, t, i, o in data[key][:10]]
    if data["tool"]:
        lines.append("Tools: " + ", ".join(f"{n} ×{c}" for n, c, _, _ in data["tool"][:10]))
    return "\n".join(lines)


async def rollback(ctx: CommandContext) -> str:
    checkpoints = ctx.engine.services.checkpoints
    if checkpoints is None:
        return "Checkpoints are not available."
    arg = ctx.args.strip()
    if not arg:
        return checkpoints.describe(await checkpoints.list(ctx.key))
    if not arg.isdigit():
        return "Usage: /rollback [number] — without a number, lists the checkpoints."
    restored = await checkpoints.restore(int(arg), ctx.key)
    action = "restored" if restored.existed else "removed (it did not exist before)"
    return f"⏪ {restored.path} {action}, as of {_when(restored.created_at)}."


async def voice(ctx: CommandContext) -> str:
    arg = ctx.args.strip().lower() or "status"
    if arg not in VOICE_MODES:
        return f"Usage: /voice [{'|'.join(VOICE_MODES)}]"
    store = ctx.engine.store
    if arg != "status":
        store.pref_set(ctx.key, "voice", arg)
    mode = store.prefs(ctx.key).get("voice", "off")
    return (
        f"🔊 Voice for this chat: {mode} (spoken replies arrive with the voice-capable platforms)."
    )


async def reload_mcp(ctx: CommandContext) -> str:
    lines = await ctx.engine.reload_mcp()
    return "🔌 MCP servers reloaded:\n" + (
        "\n".join(lines) if lines else "none configured (mcp_servers)"
    )


async def approve(ctx: CommandContext) -> str | None:
    choice = ctx.args.strip().lower() or "once"
    if choice not in ("once", "session", "always"):
        return "Usage: /approve [session|always]"
    return _resolve(ctx, choice, "")


async def deny(ctx: CommandContext) -> str | None:
    return _resolve(ctx, "deny", ctx.args.strip())


def _resolve(ctx: CommandContext, choice: str, reason: str) -> str:
    resolved = ctx.engine.approvals.resolve(
        ctx.key, choice, by=ctx.message.source.user_id or "user", reason=reason
    )
    if resolved is None:
        return "There is no pending approval in this chat."
    left = len(ctx.engine.approvals.pending(ctx.key))
    more = f" ({left} more waiting: /approve or /deny again)" if left else ""
    return f"{VERDICTS[choice]}: `{resolved.command}`{more}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
