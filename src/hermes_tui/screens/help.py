"""`?`: every key, grouped by where it works (read from the same Bindings the footer shows)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KeyGroup = tuple[str, Sequence[Binding]]


def key_label(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    names = {"question_mark": "?", "escape": "esc", "enter": "enter"}
    return " / ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def group_table(title: str, bindings: Sequence[Binding]) -> Group:
    table = Table.grid(padding=(0, 2))
    table.add_column(width=10, style="bold")
    table.add_column()
    for binding in bindings:
        if binding.description:
            table.add_row(key_label(binding), binding.description)
    return Group(Text(title, style="bold underline"), table)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, groups: Sequence[KeyGroup]) -> None:
        super().__init__(classes="dialog-screen")
        self.groups = groups

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(id="help-groups"):
                for title, bindings in self.groups:
                    yield Static(group_table(title, bindings), classes="help-group")
            yield Static(
                "A digit focuses its pane (and brings back a hidden one). In the console, "
                "escape hands the keys back to the panes. ctrl+p offers the same actions by "
                "name. esc closes this.",
                classes="dialog-meta",
            )

    def action_close(self) -> None:
        self.dismiss(None)
