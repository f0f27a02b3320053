"""The top line: which engine this is (embedded or attached, and where), the model, the
approvals badge, and whether the connection is live."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from hermes_tui.widgets.badge import ApprovalBadge


class TitleBar(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static("◆", id="title-icon")
        yield Static("", id="title-text", markup=False)
        yield ApprovalBadge(id="badge")
        yield Static("", id="title-link")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._title = ""
        self._model = ""

    def show_title(self, title: str) -> None:
        self._title = title
        self._render_title()

    def show_model(self, provider: str, model: str) -> None:
        self._model = f"{provider}:{model}"
        self._render_title()

    def _render_title(self) -> None:
        text = Text.assemble((self._title, "bold"), ("   " + self._model, "dim"))
        self.query_one("#title-text", Static).update(text)

    def show_link(self, state: str) -> None:
        """connecting | live | lost"""
        labels = {"connecting": "◌ connecting", "live": "● live", "lost": "✖ disconnected"}
        link = self.query_one("#title-link", Static)
        link.update(labels.get(state, state))
        for name in labels:
            link.set_class(name == state, f"-{name}")

    @property
    def badge(self) -> ApprovalBadge:
        return self.query_one(ApprovalBadge)
