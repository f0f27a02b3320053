"""Quit while the embedded engine is working? Stay is focused: the safe choice is the default."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmQuit(ModalScreen[bool]):
    AUTO_FOCUS = "#stay"
    BINDINGS = [
        Binding("y", "answer(True)", "Quit"),
        Binding("n", "answer(False)", "Stay"),
        Binding("escape", "answer(False)", "Stay"),
    ]

    def __init__(self, reason: str) -> None:
        super().__init__(classes="dialog-screen")
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-dialog", classes="dialog"):
            yield Label("Quit Hermes?", classes="dialog-title")
            yield Static(
                f"{self.reason}\nQuitting stops the engine inside this TUI: running turns are "
                "cancelled and answered again the next time it starts.",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Quit  y", id="quit", variant="error")
                yield Button("Stay  n", id="stay", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit")

    def action_answer(self, quit_: bool) -> None:
        self.dismiss(quit_)
