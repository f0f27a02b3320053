"""What a tool is, and what it may use while it runs.

A tool is data (name, JSON schema, emoji, one-line preview) plus one async function. It raises
ToolError for anything the model should read as a failed call; the registry turns that (and any
unexpected exception) into a tool result, so a tool never crashes a turn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hermes_gateway.agent.services import AgentServices
    from hermes_gateway.core.types import SessionSource


class ToolError(Exception):
    """A failure the model reads as the tool's result (str(e) is that text)."""


@dataclass
class ToolContext:
    """One tool call's surroundings: the session it runs for and the engine's services."""

    services: AgentServices
    session_key: str
    cwd: Path
    source: SessionSource | None = None  # the chat that asked; None for internal runs
    unattended: bool = False  # cron and webhook runs: nobody is there to approve
    extra: dict[str, Any] = field(default_factory=dict)

    def resolve_path(self, path: str) -> Path:
        """A path argument, relative to the session's working directory; `~` expands."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.cwd / p


ToolFunction = Callable[[dict[str, Any], ToolContext], Awaitable[str]]


def first_line(text: str, limit: int = 80) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    emoji: str
    run: ToolFunction
    # One line shown in progress messages, e.g. "💻 `ls -la`…" → preview(args) == "ls -la".
    preview: Callable[[dict[str, Any]], str] = lambda args: ""
    # Safe to run at the same time as other calls of the same response (reads only).
    concurrent: bool = False

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }
