"""The Textual messages the bridge posts to the app. Widgets change only in their handlers."""

from __future__ import annotations

from textual.message import Message

from hermes_gateway.control.snapshot import Snapshot
from hermes_gateway.core.events import Event


class EngineBatch(Message, bubble=False):
    """Engine events in the order they happened, coalesced (at most one per flush interval)."""

    def __init__(self, events: tuple[Event, ...], dropped: int = 0) -> None:
        super().__init__()
        self.events = events
        self.dropped = dropped  # progress lines coalesced away in this batch


class SnapshotLoaded(Message, bubble=False):
    """A fresh picture of the engine: panes replace their rows by key."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class Connected(Message, bubble=False):
    """The handle is live (after start-up or a reconnect)."""


class Disconnected(Message, bubble=False):
    """The attached service went away (or the event stream failed)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class LogLine(Message, bubble=False):
    """One record of the embedded engine's own `logging` output."""

    def __init__(self, at: float, level: str, logger: str, text: str) -> None:
        super().__init__()
        self.at = at
        self.level = level
        self.logger = logger
        self.text = text
