"""2 Sessions: every active chat session, its state, model, activity and tokens."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding

from hermes_gateway.control.snapshot import SessionView, Snapshot
from hermes_gateway.core.events import (
    Event,
    MessageReceived,
    SessionChanged,
    TurnFinished,
    TurnStarted,
)
from hermes_tui.format import ago, count, one_line
from hermes_tui.widgets.table import Column, TablePane

BUSY = frozenset({"running", "queued", "waiting-approval"})
STATES = {  # state -> (label, style)
    "idle": ("idle", "grey50"),
    "running": ("▶ running", "bold green"),
    "queued": ("… queued", "yellow"),
    "waiting-approval": ("◆ approval", "bold magenta"),
    "stopped": ("■ stopped", "grey50"),
    "reset": ("↺ reset", "grey50"),
}
COLUMNS = [
    Column("platform", "Platform", 9),
    Column("chat", "Chat", 12),
    Column("user", "User", 11),
    Column("state", "State", 11),
    Column("model", "Model"),
    Column("active", "Active", 6),
    Column("tokens", "Tokens", 11),
]


def state_cell(state: str) -> Text:
    label, style = STATES.get(state, (state, ""))
    return Text(label, style=style)


class SessionsPane(TablePane):
    NUMBER = 2
    TITLE = "Sessions"
    COLUMNS = COLUMNS
    TABLE_ID = "sessions-table"
    BINDINGS = [
        Binding("enter", "transcript", "Transcript"),
        Binding("s", "stop", "Stop"),
        Binding("n", "reset", "New session"),
    ]
    ENGINE_ACTIONS = frozenset({"stop", "reset"})

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, SessionView] = {}
        self._now = 0.0

    def apply_snapshot(self, snapshot: Snapshot, now: float) -> None:
        self._now = now
        ordered = sorted(snapshot.sessions, key=lambda s: s.last_active, reverse=True)
        self.sessions = {s.key: s for s in ordered}
        self.table.keep_only(self.sessions)
        for key in self.sessions:
            self._show(key)
        self._retitle()

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        self._now = now
        changed: set[str] = set()
        states_changed = False
        for event in events:
            key = getattr(event, "session_key", "")
            view = self.sessions.get(key)
            if view is None:
                continue  # a new session: the next snapshot brings its platform and user
            if isinstance(event, SessionChanged):
                view = dataclasses.replace(view, state=event.state)
                states_changed = True
            elif isinstance(event, TurnStarted | MessageReceived):
                view = dataclasses.replace(view, last_active=event.at)
            elif isinstance(event, TurnFinished):
                view = dataclasses.replace(
                    view,
                    last_active=event.at,
                    tokens_in=view.tokens_in + event.input_tokens,
                    tokens_out=view.tokens_out + event.output_tokens,
                )
            else:
                continue
            self.sessions[key] = view
            changed.add(key)
        for key in changed:
            self._show(key)
        if changed:
            self._retitle()
        if states_changed:  # `s` applies only to busy sessions
            self.refresh_bindings()

    def tick(self, now: float) -> None:
        self._now = now
        for key, view in self.sessions.items():
            self.table.upsert(key, {"active": ago(view.last_active, now)})

    def _show(self, key: str) -> None:
        view = self.sessions[key]
        self.table.upsert(
            key,
            {
                "platform": view.platform,
                "chat": one_line(view.chat_id, 12),
                "user": one_line(view.user, 11),
                "state": state_cell(view.state),
                "model": one_line(view.model, 28),
                "active": ago(view.last_active, self._now),
                "tokens": f"{count(view.tokens_in)}/{count(view.tokens_out)}",
            },
        )

    def _retitle(self) -> None:
        busy = sum(v.state in BUSY for v in self.sessions.values())
        self.border_subtitle = f"{len(self.sessions)} active · {busy} busy"

    def busy(self) -> list[SessionView]:
        return [v for v in self.sessions.values() if v.state in BUSY]

    # -- actions -------------------------------------------------------------------
    @property
    def selected(self) -> SessionView | None:
        key = self.table.selected_key
        return self.sessions.get(key) if key else None

    def can(self, action: str) -> bool | None:
        view = self.selected
        if view is None:
            return None
        if action == "stop" and view.state not in BUSY:
            return None
        return True

    def action_transcript(self) -> None:
        from hermes_tui.screens.transcript import TranscriptScreen

        view = self.selected
        if view is not None:
            self.app.push_screen(TranscriptScreen(view, self.hermes.handle))

    def action_stop(self) -> None:
        view = self.selected
        if view is not None:
            handle = self.hermes.handle

            async def stop() -> str:
                stopped = await handle.stop_session(view.key)
                return f"Stopped {view.key}." if stopped else f"{view.key} was not running."

            self.command(stop(), f"stop {view.key}")

    def action_reset(self) -> None:
        view = self.selected
        if view is not None:
            handle = self.hermes.handle

            async def reset() -> str:
                done = await handle.reset_session(view.key)
                return f"{view.key}: new session." if done else f"{view.key} has no session."

            self.command(reset(), f"reset {view.key}")
