"""The "Approval needed" toast, withdrawn as soon as the approval is decided (here, in the chat
or by timeout): a toast that outlives its decision would send the operator to nothing."""

from __future__ import annotations

import contextlib

from textual.app import App
from textual.notifications import Notification, Notify

from hermes_gateway.core.events import ApprovalRequested
from hermes_tui.format import one_line

SHOWN_FOR = 15.0  # seconds; the badge and the Approvals pane keep showing it after that


class ApprovalToasts:
    def __init__(self, app: App) -> None:
        self.app = app
        self._shown: dict[str, Notification] = {}  # approval id -> its toast

    def raise_for(self, event: ApprovalRequested) -> None:
        toast = Notification(
            f"{event.platform} · {event.session_key}: {one_line(event.command, 70)}\n"
            "Press 5, then a to approve or d to deny.",
            title="Approval needed",
            severity="warning",
            timeout=SHOWN_FOR,
            markup=False,
        )
        self._shown[event.approval_id] = toast
        self.app.post_message(Notify(toast))

    def withdraw(self, approval_id: str) -> None:
        toast = self._shown.pop(approval_id, None)
        if toast is not None:
            # Textual has no public "remove this toast"; it is pinned exactly, so its private
            # removal is stable here. KeyError: the toast had already timed out.
            with contextlib.suppress(KeyError):
                self.app._unnotify(toast)

    def __len__(self) -> int:
        return len(self._shown)
