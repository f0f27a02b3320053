"""The chat slash-command registry: each command is defined once (name, aliases, arguments,
help) and `/help`, the platforms' command menus and the parser are generated from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes_gateway.core.types import InboundMessage

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine


@dataclass(frozen=True)
class CommandContext:
    engine: Engine
    message: InboundMessage
    inbox_id: int
    key: str  # the session key of the chat the command came from
    args: str

    def reply(self, text: str) -> None:
        self.engine.queue_reply(self.message.source, text, self.key)


Handler = Callable[[CommandContext], Awaitable[str | None]]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    args: str = ""
    # Refused while a turn runs (it would rewrite the transcript under the running turn).
    idle_only: bool = False


@dataclass(frozen=True)
class Parsed:
    command: Command | None  # None: looked like a command but is not one
    name: str
    args: str


class CommandRegistry:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._by_name: dict[str, Command] = {}

    def add(self, command: Command) -> None:
        for name in (command.name, *command.aliases):
            if name in self._by_name:
                raise ValueError(f"/{name} is defined twice")
            self._by_name[name] = command
        self._commands[command.name] = command

    def __iter__(self):
        return iter(self._commands.values())

    def parse(self, text: str) -> Parsed | None:
        """`/name[@bot] args` → the command; None for ordinary text."""
        stripped = text.strip()
        if not stripped.startswith("/") or stripped.startswith("//") or len(stripped) < 2:
            return None
        head, _, args = stripped[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            return None
        return Parsed(self._by_name.get(name), name, args.strip())

    def help_text(self) -> str:
        lines = ["Commands:"]
        for c in self._commands.values():
            usage = f"/{c.name}" + (f" {c.args}" if c.args else "")
            aliases = "".join(f", /{a}" for a in c.aliases)
            lines.append(f"{usage}{aliases} — {c.help}")
        return "\n".join(lines)

    def menu(self) -> list[tuple[str, str]]:
        """(name, description) pairs for platforms that show a command menu."""
        return [(c.name, c.help) for c in self._commands.values()]

    async def run(
        self, engine: Engine, parsed: Parsed, message: InboundMessage, inbox_id: int, key: str
    ) -> None:
        ctx = CommandContext(engine, message, inbox_id, key, parsed.args)
        command = parsed.command
        try:
            if command is None:
                if engine.run_skill(key, message, inbox_id, parsed.name, parsed.args):
                    return  # a skill: answered by a turn, which finishes the inbox row
                reply = f"Unknown command /{parsed.name}. Send /help for the list."
            elif command.idle_only and engine.lane(key).busy:
                reply = f"A reply is still being written. Send /stop first, then /{command.name}."
            else:
                reply = await command.handler(ctx)
        except Exception as exc:  # a failure is never silence
            reply = f"⚠️ /{parsed.name} failed: {engine.describe_error(exc)}"
        # "command", not "done": a command is not a turn, so /retry looks past it.
        engine.store.inbox_finish([inbox_id], "command", engine.clock())
        if reply:
            ctx.reply(reply)
