"""Chat slash commands: one registry, built once per engine."""

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
            "approve",
            "approve a pending dangerous command",
            sessions.approve,
            args="[session|always]",
        ),
        Command("deny", "deny a pending dangerous command", sessions.deny, args="[reason]"),
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
    ):
        registry.add(command)
    return registry


__all__ = ["Command", "CommandContext", "CommandRegistry", "build_registry"]
