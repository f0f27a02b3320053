"""Chat slash commands: one registry, built once per engine."""

from hermes_gateway.commands import agent_commands as agent
from hermes_gateway.commands import info_commands as info
from hermes_gateway.commands import session_commands as sessions
from hermes_gateway.commands.registry import Command, CommandContext, CommandRegistry


def build_registry() -> CommandRegistry:
    registry = CommandRegistry()
    for command in (
        Command("help", "show the commands", info.help_),
        Command("new", "start a fresh conversation", sessions.new_session, aliases=("reset",)),
        Command("stop", "stop the running reply", sessions.stop),
        Command("status", "show this session", sessions.status),
        Command(
            "approve", "approve a pending dangerous command", agent.approve, args="[session|always]"
        ),
        Command("deny", "deny a pending dangerous command", agent.deny, args="[reason]"),
        Command(
            "background",
            "run a prompt separately; the result comes back here",
            agent.background,
            args="<prompt>",
            aliases=("bg",),
        ),
        Command("title", "show or set the session title", sessions.title, args="[name]"),
        Command(
            "resume", "resume an earlier session", sessions.resume, args="[name]", idle_only=True
        ),
        Command("undo", "remove the last exchange", sessions.undo, idle_only=True),
        Command("retry", "run the last message again", sessions.retry, idle_only=True),
        Command("usage", "token usage of this session", info.usage),
        Command("model", "show or switch the model", info.model, args="[provider:model]"),
        Command("provider", "list model providers and their keys", info.provider),
        Command("sethome", "make this chat the platform's home channel", info.sethome),
        Command(
            "personality", "show or set the agent's personality", agent.personality, args="[name]"
        ),
        Command(
            "reasoning",
            "reasoning effort, or show/hide the reasoning",
            agent.reasoning,
            args="[level|show|hide]",
        ),
        Command(
            "compress", "summarise older turns to free the context", agent.compress, idle_only=True
        ),
        Command(
            "insights", "usage by model, platform, tool and day", agent.insights, args="[days]"
        ),
        Command(
            "rollback",
            "list or restore file checkpoints",
            agent.rollback,
            args="[number]",
            idle_only=True,
        ),
        Command(
            "voice",
            "voice reply preference for this chat",
            agent.voice,
            args="[on|off|tts|join|leave|status]",
        ),
        Command(
            "reload-mcp",
            "reload MCP servers from the config",
            agent.reload_mcp,
            aliases=("reload_mcp",),
        ),
    ):
        registry.add(command)
    return registry


__all__ = ["Command", "CommandContext", "CommandRegistry", "build_registry"]
