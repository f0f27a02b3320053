"""6 Console: chat with the agent as the local operator, through the `console` platform (the
same inbox, session lane and outbox as any chat). Replies arrive as ConsoleReply events."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, RichLog

from hermes_gateway.core.events import ConsoleReply, Event
from hermes_gateway.platforms.console import CONSOLE_CHAT
from hermes_tui.widgets.pane import Pane

LIMIT = 2000  # lines kept, in the log and in `lines`


class ConsolePane(Pane):
    NUMBER = 6
    TITLE = "Console"
    TAKES_TEXT = True
    BINDINGS = [
        Binding("escape", "leave", "Back to the panes"),
        Binding("ctrl+l", "clear", "Clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=LIMIT)  # plain text of what is shown
        self.waiting = False  # between a send and the agent's first answer

    def compose(self) -> ComposeResult:
        yield RichLog(id="console-log", max_lines=LIMIT, wrap=True, markup=False, min_width=20)
        yield Input(placeholder="Message the agent… (enter sends)", id="console-input")

    @property
    def focus_target(self) -> Input:
        return self.query_one(Input)

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        for event in events:
            # The operator's own chat; other console chats are scripts and benchmarks.
            if isinstance(event, ConsoleReply) and event.chat_id == CONSOLE_CHAT:
                self.waiting = False
                self._write("◆ ", "bold magenta", event.text)
        self._retitle()

    def _write(self, mark: str, style: str, text: str) -> None:
        self.lines.append(mark + text)
        self.query_one(RichLog).write(Text.assemble((mark, style), text))

    def _retitle(self) -> None:
        self.border_subtitle = "waiting for the agent…" if self.waiting else ""

    @on(Input.Submitted, "#console-input")
    def send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.clear()
        if not self.hermes.live:
            self.notify("Not connected to an engine: nothing was sent.", severity="warning")
            return
        self._write("› ", "bold cyan", text)
        self.waiting = True
        self._retitle()
        handle = self.hermes.handle

        async def send() -> None:
            await handle.send_console(text)

        self.command(send(), "send to the console")

    def action_leave(self) -> None:
        """Digits type into the input here: escape hands the keys back to the panes."""
        self.hermes.action_focus_pane(self.hermes.last_pane)

    def action_clear(self) -> None:
        self.lines.clear()
        self.query_one(RichLog).clear()
