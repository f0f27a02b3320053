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
from hermes_tui import stopgaps

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
        entries = None
        if self.handle is not None and stopgaps.can_read_transcripts(self.handle):
            entries = await stopgaps.transcript(self.handle, self.view.session_id)
        log.clear()
        if entries is None:
            log.write(Text("The transcript cannot be read over this connection yet.", "yellow"))
            return
        if not entries:
            log.write(Text("No messages in this session yet.", style="grey50"))
        for role, text in entries:
            label, style = ROLES.get(role, (role[:5], "grey50"))
            log.write(Text.assemble((f"{label:<6}", style), text))

    def action_close(self) -> None:
        self.dismiss(None)
