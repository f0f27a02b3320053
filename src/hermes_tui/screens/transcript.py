"""A session's details and, when the handle can read it, its transcript (newest 200 entries)."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, RichLog, Static

from hermes_gateway.control.handle import GatewayHandle
from hermes_gateway.control.snapshot import SessionView

ROLES = {"user": ("you ", "bold cyan"), "assistant": ("agent", "bold magenta")}


def session_info(view: SessionView) -> str:
    active = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(view.last_active))
    lines = [
        f"Session   {view.session_id}  ({view.key})",
        f"Chat      {view.platform} · {view.chat_id} · {view.user}",
        f"State     {view.state}",
        f"Model     {view.model}",
        f"Active    {active}",
        f"Tokens    {view.tokens_in} in · {view.tokens_out} out",
    ]
    if view.title:
        lines.insert(0, f"Title     {view.title}")
    return "\n".join(lines)


TRANSCRIPT_LIMIT = 200  # newest entries shown: a long session must not stall the screen


class TranscriptScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, view: SessionView, handle: GatewayHandle | None) -> None:
        super().__init__(classes="dialog-screen")
        self.view = view
        self.handle = handle

    def compose(self) -> ComposeResult:
        with Vertical(id="transcript-dialog", classes="dialog"):
            yield Label(f"Session {self.view.key}", classes="dialog-title", markup=False)
            yield Static(session_info(self.view), id="session-info", markup=False)
            yield RichLog(id="transcript", wrap=True, markup=False, max_lines=2000, min_width=20)

    def on_mount(self) -> None:
        self.query_one(RichLog).write(Text("Loading the transcript…", style="grey50"))
        self.load()

    @work(exit_on_error=False)
    async def load(self) -> None:
        log = self.query_one(RichLog)
        if self.handle is None:
            return
        entries = await self.handle.transcript(self.view.session_id, TRANSCRIPT_LIMIT)
        log.clear()
        if not entries:
            log.write(Text("No messages in this session yet.", style="grey50"))
        for entry in entries:
            label, style = ROLES.get(entry["role"], (entry["role"][:5], "grey50"))
            log.write(Text.assemble((f"{label:<6}", style), entry_text(entry)))

    def action_close(self) -> None:
        self.dismiss(None)


def entry_text(entry: dict) -> str:
    """A transcript entry as one readable block: its text, the tools it called, a tool's name."""
    content = entry.get("content") or ""
    if entry.get("tool_calls"):
        names = ", ".join(str(c.get("function", c).get("name", "?")) for c in entry["tool_calls"])
        content = f"{content}\n→ calls {names}".strip()
    name = entry.get("name") or ""
    return f"[{name}] {content}" if name else content
