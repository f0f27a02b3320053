"""Commands about the agent and the gateway: /help, /usage, /model, /provider, /sethome."""

from __future__ import annotations

from hermes_gateway.commands.registry import CommandContext


async def help_(ctx: CommandContext) -> str:
    text = ctx.engine.commands.help_text()
    skills = ctx.engine.skills.list()
    if skills:
        text += "\n\nSkills:\n" + "\n".join(f"/{s.command} — {s.description}" for s in skills)
    return text


async def usage(ctx: CommandContext) -> str:
    session = ctx.engine.store.session_current(ctx.key)
    if session is None:
        return "No usage yet in this chat."
    totals = ctx.engine.store.usage_for_session(session.id)
    lines = [
        f"Tokens this session: {totals.input_tokens:,} in, {totals.output_tokens:,} out "
        f"over {totals.turns} model turn(s)."
    ]
    for model, (tokens_in, tokens_out) in sorted(totals.by_model.items()):
        lines.append(f"  {model}: {tokens_in:,} in, {tokens_out:,} out")
    return "\n".join(lines)


async def model(ctx: CommandContext) -> str:
    engine = ctx.engine
    session = engine.store.session_current(ctx.key)
    if session is None:
        session = engine.sessions.resolve(ctx.message.source, ctx.key, engine.is_protected)
    if not ctx.args:
        current = engine.runtime.resolved(session.model)
        default = engine.runtime.default
        lines = [f"Model: {current.provider}:{current.model}"]
        if session.model:
            lines.append(
                f"Default: {default.provider}:{default.model} (/model default restores it)"
            )
        lines.append(
            "Switch with /model provider:model, e.g. /model openrouter:anthropic/claude-sonnet-4"
        )
        return "\n".join(lines)
    override = "" if ctx.args.strip().lower() == "default" else ctx.args.strip()
    target = engine.runtime.resolved(override)  # raises a clear error if unusable
    engine.store.session_update(session.id, model=override)
    return f"🧠 Model for this chat: {target.provider}:{target.model}"


async def provider(ctx: CommandContext) -> str:
    from hermes_gateway.agent.providers import status

    engine = ctx.engine
    active = engine.runtime.default.provider
    lines = ["Providers:"]
    rows = status(engine.settings.env, engine.settings.model.api_key, active)
    for name, label, has_key, is_active in rows:
        mark = "●" if is_active else " "
        auth = "key set" if has_key else "no key"
        lines.append(f"{mark} {name} — {label} ({auth})")
    return "\n".join(lines)


async def sethome(ctx: CommandContext) -> str:
    from hermes_gateway.config.dotenv import update_dotenv

    src = ctx.message.source
    variable = f"{src.platform.env_prefix}_HOME_CHANNEL"
    update_dotenv(ctx.engine.settings.home.env_file, {variable: src.chat_id})
    ctx.engine.set_home_channel(src.platform.value, src.chat_id)
    return f"🏠 This chat is now the {src.platform.value} home channel ({variable} in .env)."
