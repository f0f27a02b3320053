"""7 Log: the engine's events (and, embedded, its own log records) as lines, bounded.

A plain-text `Log` (styled by a highlighter at paint time, visible lines only): writing a line
costs next to nothing, so a flood of events never slows the engine it shares a loop with."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from rich.highlighter import Highlighter
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Log

from hermes_gateway.core.events import Event
from hermes_gateway.service.runlog import LEVELS, NEVER_LOGGED, event_name, format_fields
from hermes_tui.widgets.pane import Pane

LIMIT = 2000
PER_BATCH = 200  # lines written per batch at most: a flood is summarised, not kept
# Shown in their own panes, and far too many for a log: tool progress and process output.
SKIPPED = NEVER_LOGGED | {"ToolProgress", "ProcessOutput"}
QUIET_FIELDS = frozenset({"message_id", "session_id", "outbox_id"})


class LineHighlighter(Highlighter):
    """`12:00:01 WARN send.failed platform=telegram …`: time dim, name cyan, problems loud."""

    RULES = (
        (re.compile(r"^\d\d:\d\d:\d\d"), "grey50"),
        (re.compile(r"(?<=^\d\d:\d\d:\d\d )[\w.]+"), "cyan"),
        (re.compile(r"\b[a-z_]+(?==)"), "grey62"),
        (re.compile(r"(?<=^\d\d:\d\d:\d\d )WARN [\w.]+"), "bold yellow"),
        (re.compile(r"(?<=^\d\d:\d\d:\d\d )ERROR .*"), "bold red"),
    )

    def highlight(self, text: Text) -> None:
        for pattern, style in self.RULES:
            text.highlight_regex(pattern, style)


def format_line(at: float, level: str, name: str, fields: str) -> str:
    mark = "" if level in ("INFO", "DEBUG") else f"{level} "
    return f"{time.strftime('%H:%M:%S', time.localtime(at))} {mark}{name} {fields}".rstrip()


class LogPane(Pane):
    NUMBER = 7
    TITLE = "Log"
    BINDINGS = [
        Binding("p", "pause", "Pause/follow"),
        Binding("c", "clear", "Clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.events_seen = 0

    def compose(self) -> ComposeResult:
        log = Log(id="log-view", max_lines=LIMIT, highlight=True, auto_scroll=True)
        log.highlighter = LineHighlighter()
        yield log

    @property
    def log_view(self) -> Log:
        return self.query_one(Log)

    def apply_events(self, events: Sequence[Event], now: float) -> None:
        shown = [e for e in events if e.name not in SKIPPED]
        if not shown:
            return
        self.events_seen += len(shown)
        lines = []
        if len(shown) > PER_BATCH:
            skipped = len(shown) - PER_BATCH
            lines.append(format_line(shown[0].at, "INFO", "log", f"… {skipped} events not shown"))
            shown = shown[-PER_BATCH:]
        for event in shown:
            values = {k: v for k, v in event.fields().items() if k not in QUIET_FIELDS}
            level = LEVELS.get(event.name, "INFO")
            lines.append(format_line(event.at, level, event_name(event), format_fields(values)))
        self.log_view.write_lines(lines)

    def line(self, at: float, level: str, name: str, text: str) -> None:
        """One record of the engine's own logging (embedded mode)."""
        self.log_view.write_line(format_line(at, level, name, text))

    def action_pause(self) -> None:
        log = self.log_view
        log.auto_scroll = not log.auto_scroll
        if log.auto_scroll:
            log.scroll_end(animate=False)
        self.border_subtitle = "" if log.auto_scroll else "paused · p to follow"

    def action_clear(self) -> None:
        self.log_view.clear()
