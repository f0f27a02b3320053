"""The shape every pane shares: a numbered, bordered box around one focusable widget, fed
engine state by the app (snapshot and event batches, inside message handlers) and sending
commands back through the handle as workers."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, ClassVar

from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from hermes_gateway.control.snapshot import Snapshot
from hermes_gateway.core.events import Event

if TYPE_CHECKING:
    from hermes_tui.app import HermesApp


class Pane(Vertical):
    ALLOW_MAXIMIZE = True
    NUMBER: ClassVar[int] = 0
    TITLE: ClassVar[str] = ""
    TAKES_TEXT: ClassVar[bool] = False  # an input inside takes digit keys (escape leaves it)
    # Actions that send a command to the engine: greyed out while no handle is live.
    ENGINE_ACTIONS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__(id=self.pane_id(), classes="pane")
        self.border_title = f"{self.NUMBER} {self.TITLE}"
        self._binding_state: tuple[bool | None, ...] | None = None

    @classmethod
    def pane_id(cls) -> str:
        return cls.TITLE.lower().replace(" ", "-")

    @property
    def focus_target(self) -> Widget:
        """What a digit key focuses: the pane's table, log or input."""
        return next(w for w in self.query("*") if w.can_focus)

    @property
    def hermes(self) -> HermesApp:
        return self.app  # type: ignore[return-value]

    # -- engine state in (called by the app's handlers, inside batch_update) -------------
    def apply_snapshot(self, snapshot: Snapshot, now: float) -> None:
        """Replace what the pane shows with the snapshot's rows (by key)."""

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        """Apply a batch of engine events, in order."""

    def tick(self, now: float) -> None:
        """Once a second: refresh ages and countdowns."""

    # -- commands out ------------------------------------------------------------------
    def command(self, work: Awaitable[str | None], label: str) -> None:
        """Run one handle call as a worker; its sentence (or error) becomes a toast."""
        self.hermes.run_command(work, label)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.ENGINE_ACTIONS and not self.hermes.live:
            return None
        return self.can(action)

    def can(self, action: str) -> bool | None:
        """Whether `action` applies to what is selected: True, or None to grey it out."""
        return True

    def refresh_bindings(self) -> None:
        """Tell the footer only when one of the focused pane's keys changed state: every
        refresh rebuilds the whole footer, and panes ask after each event batch. (Focus moving
        refreshes the footer by itself.)"""
        if not self.has_focus_within:
            self._binding_state = None
            return
        state = tuple(self.check_action(b.action, ()) for _, b in self._bindings)
        if state != getattr(self, "_binding_state", None):
            self._binding_state = state
            super().refresh_bindings()

    def on_descendant_focus(self) -> None:
        self.hermes.pane_focused(self)


def show(static: Static, content: object) -> None:
    """Update a Static only when its content changes: every update re-lays the widget out,
    and these detail lines are set on each event batch."""
    if getattr(static, "_hermes_shown", None) != content:
        static._hermes_shown = content  # type: ignore[attr-defined]
        static.update(content)
