"""The pending-approvals badge in the title bar: seen wherever focus is, even maximised."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class ApprovalBadge(Static):
    count: reactive[int] = reactive(0, layout=True)  # width: auto must follow the text

    def render(self) -> str:
        if not self.count:
            return ""
        noun = "approval" if self.count == 1 else "approvals"
        return f" ⚠ {self.count} {noun} waiting · 5 "

    def watch_count(self, count: int) -> None:
        self.set_class(count > 0, "-alert")
