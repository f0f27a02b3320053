"""3 Tool progress: a live, bounded log of tool calls across sessions. It follows the newest
call while the cursor is on the last row; scrolled away, it counts what is new instead."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from hermes_gateway.core.events import Event, ToolProgress
from hermes_tui.format import duration, one_line
from hermes_tui.widgets.table import Column, TablePane

LIMIT = 1000  # calls kept; the table is rebuilt from these when it grows past LIMIT + SLACK
SLACK = 200
STATUS = {"started": ("… running", "yellow"), "ok": ("✓ ok", "green"), "error": ("✖ error", "red")}
COLUMNS = [
    Column("time", "Time", 8),
    Column("session", "Session", 18),
    Column("tool", "Tool", 16),
    Column("preview", "Preview"),
    Column("took", "Took", 7),
    Column("status", "Status", 9),
]


@dataclass
class Call:
    key: str
    at: float
    session_key: str
    emoji: str
    tool: str
    preview: str
    status: str
    duration_ms: float = 0.0


class ToolLogPane(TablePane):
    NUMBER = 3
    TITLE = "Tool progress"
    COLUMNS = COLUMNS
    TABLE_ID = "tool-table"
    BINDINGS = [
        Binding("s", "filter_session", "Filter session"),
        Binding("e", "follow", "Follow"),
        Binding("c", "clear", "Clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.calls: deque[Call] = deque(maxlen=LIMIT)
        self._open: dict[tuple[str, str], list[Call]] = {}  # (session, tool) -> running calls
        self._ids = itertools.count(1)
        self.session_filter: str | None = None
        self.following = True
        self.unseen = 0

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        added, was_empty = 0, not self.calls
        for event in events:
            if not isinstance(event, ToolProgress):
                continue
            running = self._open.get((event.session_key, event.tool))
            if running and event.status != "started":
                call = running.pop(0)  # calls of one tool finish roughly in order
                if not running:
                    del self._open[(event.session_key, event.tool)]
                call.status, call.duration_ms = event.status, event.duration_ms
                if call.key in self.table.rows:
                    self.table.upsert(call.key, self._cells(call))
                continue
            call = Call(
                f"t{next(self._ids)}",
                event.at,
                event.session_key,
                event.emoji,
                event.tool,
                event.preview,
                event.status,
                event.duration_ms,
            )
            if event.status == "started":
                self._open.setdefault((event.session_key, event.tool), []).append(call)
            if len(self.calls) == LIMIT:
                gone = self.calls[0]
                running = self._open.get((gone.session_key, gone.tool))
                if running and gone in running:
                    running.remove(gone)
                    if not running:
                        del self._open[(gone.session_key, gone.tool)]
            self.calls.append(call)
            if self._shown(call):
                self.table.upsert(call.key, self._cells(call))
                added += 1
        if was_empty and self.calls:
            self.refresh_bindings()
        if not added:
            return
        if self.table.row_count > LIMIT + SLACK:
            self._rebuild()
        if self.following:
            self._to_end()
        else:
            self.unseen += added
        self._retitle()

    def _shown(self, call: Call) -> bool:
        return self.session_filter is None or call.session_key == self.session_filter

    def _cells(self, call: Call) -> dict[str, object]:
        label, style = STATUS.get(call.status, (call.status, ""))
        return {
            "time": time.strftime("%H:%M:%S", time.localtime(call.at)),
            "session": one_line(call.session_key, 18),
            # U+FE0F (emoji presentation) makes some terminals draw one cell where Rich counts two.
            "tool": f"{call.emoji.replace(chr(0xFE0F), '')} {call.tool}",
            "preview": one_line(call.preview, 72),
            "took": duration(call.duration_ms),
            "status": Text(label, style=style),
        }

    def _rebuild(self) -> None:
        table = self.table
        table.clear()
        for call in self.calls:
            if self._shown(call):
                table.add_row(*self._cells(call).values(), key=call.key)

    def _to_end(self) -> None:
        if self.table.row_count:
            self.table.move_cursor(row=self.table.row_count - 1, animate=False)
        self.unseen = 0

    def _retitle(self) -> None:
        parts = [f"session {self.session_filter}" if self.session_filter else "all sessions"]
        if not self.following and self.unseen:
            parts.append(f"{self.unseen} new · e to follow")
        self.border_subtitle = " · ".join(parts)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # On the last row the log follows; anywhere else the operator is reading. A stale
        # event (the cursor moved again since, e.g. following new rows) says nothing.
        table = self.table
        if event.cursor_row != table.cursor_row:
            return
        following = table.cursor_row >= table.row_count - 1
        if following != self.following:
            self.following = following
            self.refresh_bindings()
        if following:
            self.unseen = 0
        self._retitle()

    # -- actions -------------------------------------------------------------------
    def action_follow(self) -> None:
        self.following = True
        self._to_end()
        self._retitle()
        self.refresh_bindings()

    def action_filter_session(self) -> None:
        """Cycle: all sessions → each session seen → all sessions."""
        keys = sorted({c.session_key for c in self.calls})
        choices: list[str | None] = [None, *keys]
        index = choices.index(self.session_filter) if self.session_filter in choices else 0
        self.session_filter = choices[(index + 1) % len(choices)]
        self._rebuild()
        self.action_follow()

    def action_clear(self) -> None:
        self.calls.clear()
        self._open.clear()
        self.table.clear()
        self.unseen = 0
        self._retitle()
        self.refresh_bindings()

    def can(self, action: str) -> bool | None:
        if action == "filter_session":
            return True if self.calls else None
        if action == "follow":
            return None if self.following else True
        return True if self.calls else None
