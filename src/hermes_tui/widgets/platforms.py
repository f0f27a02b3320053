"""1 Platforms: each messaging platform's connection state, traffic and last error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding

from hermes_gateway.control.snapshot import Snapshot
from hermes_gateway.core.events import (
    Event,
    MessageReceived,
    MessageSent,
    PlatformStatusChanged,
    SendFailed,
)
from hermes_tui.format import ago, one_line
from hermes_tui.widgets.table import Column, TablePane

STATES = {  # state -> (symbol, style)
    "connected": ("●", "bold green"),
    "connecting": ("◌", "yellow"),
    "failed": ("✖", "bold red"),
    "disabled": ("○", "grey50"),
    "stopped": ("■", "grey50"),
}
COLUMNS = [
    Column("platform", "Platform", 11),
    Column("state", "State", 12),
    Column("since", "Since", 5),
    Column("in", "In", 5),
    Column("out", "Out", 5),
    Column("error", "Last error"),
]


@dataclass
class PlatformRow:
    state: str = "stopped"
    detail: str = ""
    since: float = 0.0
    messages_in: int = 0
    messages_out: int = 0
    last_error: str = ""


def state_cell(state: str) -> Text:
    symbol, style = STATES.get(state, ("?", ""))
    return Text(f"{symbol} {state}", style=style)


class PlatformsPane(TablePane):
    NUMBER = 1
    TITLE = "Platforms"
    COLUMNS = COLUMNS
    TABLE_ID, DETAIL_ID = "platforms-table", "platform-detail"
    BINDINGS = [
        Binding("r", "reconnect", "Reconnect"),
        Binding("x", "disable", "Disable"),
    ]
    ENGINE_ACTIONS = frozenset({"reconnect", "disable"})

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, PlatformRow] = {}
        self._now = 0.0

    def apply_snapshot(self, snapshot: Snapshot, now: float) -> None:
        self._now = now
        self.rows = {
            p.name: PlatformRow(
                p.state, p.detail, p.since, p.messages_in, p.messages_out, p.last_error
            )
            for p in snapshot.platforms
        }
        self.table.keep_only(self.rows)
        for name in self.rows:
            self._show(name)
        self._retitle()

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        self._now = now
        changed: set[str] = set()
        states_changed = False
        for event in events:
            if isinstance(event, PlatformStatusChanged):
                states_changed = True
                row = self.rows.setdefault(event.platform, PlatformRow())
                row.state, row.detail, row.since = event.state, event.detail, event.at
                if event.state == "failed":
                    row.last_error = event.detail
            elif isinstance(event, MessageReceived | MessageSent | SendFailed):
                row = self.rows.get(event.platform)
                if row is None:
                    continue
                if isinstance(event, MessageReceived):
                    row.messages_in += 1
                elif isinstance(event, MessageSent):
                    row.messages_out += 1
                else:
                    row.last_error = event.error
            else:
                continue
            changed.add(event.platform)
        for name in changed:
            self._show(name)
        if changed:
            self._retitle()
        if states_changed:  # what `x` allows depends on the state; traffic changes nothing
            self.refresh_bindings()

    def tick(self, now: float) -> None:
        self._now = now
        for name, row in self.rows.items():
            self.table.upsert(name, {"since": ago(row.since, now)})

    def _show(self, name: str) -> None:
        row = self.rows[name]
        self.table.upsert(
            name,
            {
                "platform": name,
                "state": state_cell(row.state),
                "since": ago(row.since, self._now),
                "in": str(row.messages_in),
                "out": str(row.messages_out),
                "error": Text(one_line(row.last_error, 80), style="red"),
            },
        )

    def _retitle(self) -> None:
        failed = sum(r.state == "failed" for r in self.rows.values())
        up = sum(r.state == "connected" for r in self.rows.values())
        self.border_subtitle = f"{up}/{len(self.rows)} up" + (
            f" · {failed} failed" if failed else ""
        )
        self.set_class(failed > 0, "-failed")
        self.show_detail()

    def detail_text(self) -> str:
        """A failure's reason never fits its cell."""
        name = self.selected
        row = self.rows.get(name) if name else None
        if row is None:
            return "No platforms yet."
        text = f"{name}: {row.state}" + (f" ({row.detail})" if row.detail else "")
        if row.last_error and row.last_error != row.detail:
            text += f"\nlast error: {row.last_error}"
        return text

    # -- actions -------------------------------------------------------------------
    @property
    def selected(self) -> str | None:
        return self.table.selected_key

    def can(self, action: str) -> bool | None:
        name = self.selected
        if name is None:
            return None
        if action == "disable" and self.rows[name].state == "disabled":
            return None
        return True

    def action_reconnect(self) -> None:
        name = self.selected
        if name is not None:
            handle = self.hermes.handle

            async def reconnect() -> None:
                await handle.reconnect_platform(name)  # its state changes show how it went

            self.notify(f"Reconnecting {name}…")
            self.command(reconnect(), f"reconnect {name}")

    def action_disable(self) -> None:
        name = self.selected
        if name is not None:
            handle = self.hermes.handle

            async def disable() -> str:
                await handle.disable_platform(name)
                return f"{name} disabled until you reconnect it (r)."

            self.command(disable(), f"disable {name}")
