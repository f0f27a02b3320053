"""The full story of one approval: the whole command, why it was flagged, where it came from
and how long is left. Deny has the focus: enter by reflex must never run a command."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from hermes_gateway.control.snapshot import ApprovalView
from hermes_tui.format import countdown


class ApprovalScreen(ModalScreen[str | None]):
    """Dismisses with once | session | deny, or None to decide later."""

    AUTO_FOCUS = "#deny"
    BINDINGS = [
        Binding("a", "choose('once')", "Approve once"),
        Binding("A", "choose('session')", "Approve for session"),
        Binding("d", "choose('deny')", "Deny"),
        Binding("escape", "choose('')", "Decide later"),
    ]

    def __init__(self, view: ApprovalView, clock: Callable[[], float]) -> None:
        super().__init__(classes="dialog-screen")
        self.view = view
        self.clock = clock

    def compose(self) -> ComposeResult:
        view = self.view
        with Vertical(id="approval-dialog", classes="dialog"):
            yield Label("Approve this command?", classes="dialog-title")
            yield Static(
                f"{view.platform} · {view.session_key} · chat {view.chat_id}",
                classes="dialog-meta",
                markup=False,
            )
            with VerticalScroll(id="approval-command"):
                yield Static(view.command, markup=False)
            yield Label("Why it needs approval", classes="dialog-heading")
            yield Static(view.reason or "(no reason given)", id="approval-reason", markup=False)
            yield Static("", id="approval-left")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Approve once  a", id="once", variant="success")
                yield Button("For this session  A", id="session", variant="warning")
                yield Button("Deny  d", id="deny", variant="error")

    def on_mount(self) -> None:
        self._tick()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        left = countdown(self.view.expires_at, self.clock())
        text = "Expired: it was denied." if left == "expired" else f"Time left: {left}"
        self.query_one("#approval-left", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)
