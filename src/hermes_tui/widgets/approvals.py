"""5 Approvals: dangerous commands waiting for a decision, with their age and time left.
`a` approves once, `A` for the rest of the session, `d` denies; enter shows everything."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from hermes_gateway.control.snapshot import ApprovalView, Snapshot
from hermes_gateway.core.events import ApprovalRequested, ApprovalResolved, Event
from hermes_tui.format import ago, countdown, one_line
from hermes_tui.widgets.table import Column, TablePane

COLUMNS = [
    Column("platform", "Platform", 9),
    Column("session", "Session", 15),
    Column("command", "Command"),
    Column("age", "Age", 4),
    Column("left", "Left", 7),
]
CHOICES = {"once": "Approved once", "session": "Approved for the session", "deny": "Denied"}


class ApprovalsPane(TablePane):
    NUMBER = 5
    TITLE = "Approvals"
    COLUMNS = COLUMNS
    TABLE_ID, DETAIL_ID = "approvals-table", "approval-detail"
    BINDINGS = [
        Binding("a", "resolve('once')", "Approve once"),
        Binding("A", "resolve('session')", "Approve for session"),
        Binding("d", "resolve('deny')", "Deny"),
        Binding("enter", "details", "Details"),
    ]
    ENGINE_ACTIONS = frozenset({"resolve"})

    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, ApprovalView] = {}
        self._now = 0.0

    @property
    def count(self) -> int:
        return len(self.pending)

    def apply_snapshot(self, snapshot: Snapshot, now: float) -> None:
        self._now = now
        self.pending = {a.id: a for a in snapshot.approvals}
        self.table.keep_only(self.pending)
        for approval_id in self.pending:
            self._show(approval_id)
        self._after_change()

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        self._now = now
        changed = False
        for event in events:
            if isinstance(event, ApprovalRequested):
                self.pending[event.approval_id] = ApprovalView(
                    event.approval_id,
                    event.session_key,
                    event.platform,
                    event.chat_id,
                    event.command,
                    event.reason,
                    event.at,
                    event.expires_at,
                )
                self._show(event.approval_id)
                changed = True
            elif isinstance(event, ApprovalResolved) and event.approval_id in self.pending:
                del self.pending[event.approval_id]
                self.table.drop(event.approval_id)
                changed = True
        if changed:
            self._after_change()

    def tick(self, now: float) -> None:
        self._now = now
        for approval_id, view in self.pending.items():
            self.table.upsert(approval_id, self._times(view))

    def _times(self, view: ApprovalView) -> dict[str, object]:
        left = countdown(view.expires_at, self._now)
        urgent = left == "expired" or view.expires_at - self._now < 60
        return {
            "age": ago(view.created_at, self._now),
            "left": Text(left, style="bold red" if urgent else "yellow"),
        }

    def _show(self, approval_id: str) -> None:
        view = self.pending[approval_id]
        self.table.upsert(
            approval_id,
            {
                "platform": view.platform,
                "session": one_line(view.session_key, 16),
                "command": Text(one_line(view.command, 60), style="bold"),
                **self._times(view),
            },
        )

    def _after_change(self) -> None:
        self.border_subtitle = f"{self.count} pending" if self.pending else "none pending"
        self.set_class(bool(self.pending), "-attention")
        self.show_detail()
        self.refresh_bindings()

    def detail_text(self) -> str:
        """The selected command in full and why it was flagged (enter shows even more)."""
        view = self.selected
        return (
            "Nothing waits for a decision." if view is None else f"$ {view.command}\n{view.reason}"
        )

    # -- actions -------------------------------------------------------------------
    @property
    def selected(self) -> ApprovalView | None:
        key = self.table.selected_key
        return self.pending.get(key) if key else None

    def can(self, action: str) -> bool | None:
        return None if self.selected is None else True

    def action_resolve(self, choice: str) -> None:
        view = self.selected
        if view is not None:
            self.resolve(view, choice)

    def resolve(self, view: ApprovalView, choice: str) -> None:
        handle = self.hermes.handle

        async def decide() -> str:
            done = await handle.resolve_approval(view.id, choice)
            if not done:
                return "That approval was already decided (or it expired)."
            return f"{CHOICES[choice]}: {one_line(view.command, 60)}"

        self.command(decide(), f"{choice} {view.id}")

    def action_details(self) -> None:
        from hermes_tui.screens.approval import ApprovalScreen

        view = self.selected
        if view is None:
            return

        def decided(choice: str | None) -> None:
            if choice is not None and view.id in self.pending:
                self.resolve(view, choice)

        self.app.push_screen(ApprovalScreen(view, self.hermes.clock), decided)
