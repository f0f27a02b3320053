"""How `hermes gateway` shows what the engine does: a readable Rich log on a terminal, or one
plain line per event for a service manager (no colours, no TTY assumptions)."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from hermes_gateway.core.events import Event

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
NEVER_LOGGED = frozenset({"ConsoleReply"})  # message bodies stay out of logs
LEVELS = {"EngineError": "ERROR", "SendFailed": "WARN", "EngineWarning": "WARN"}
STYLES = {"ERROR": "bold red", "WARN": "yellow", "INFO": "cyan"}


def event_name(event: Event) -> str:
    """MessageReceived → message.received"""
    words = _CAMEL.sub(" ", event.name).lower().split()
    return words[0] + ("." + "_".join(words[1:]) if len(words) > 1 else "")


def format_fields(values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        if value in ("", None, ()):
            continue
        if isinstance(value, (tuple, list)):
            value = ",".join(map(str, value))
        if isinstance(value, float):
            value = f"{value:.1f}"
        text = str(value)
        if not text or any(c.isspace() for c in text) or '"' in text:
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _timestamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


class PlainLog:
    """`2026-11-26T06:30:00.123Z INFO message.received platform=console …`"""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    render = staticmethod(format_fields)

    def line(self, at: float, level: str, name: str, fields: str) -> None:
        self.stream.write(plain_line(at, level, name, fields) + "\n")
        self.stream.flush()


def plain_line(at: float, level: str, name: str, fields: str) -> str:
    return f"{_timestamp(at)} {level:<5} {name} {fields}".rstrip()


class RichLog:
    """For a person at a terminal: local time, coloured names, only the fields that help."""

    quiet_events = frozenset({"session.changed"})
    quiet_fields = frozenset({"message_id", "session_id", "outbox_id", "session_key"})

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)

    @staticmethod
    def render(values: dict[str, Any]) -> str:
        # A lone message reads better as a sentence than as message="…".
        if set(values) <= {"message", "msg"}:
            return " ".join(str(v) for v in values.values())
        return format_fields(values)

    def line(self, at: float, level: str, name: str, fields: str) -> None:
        from rich.text import Text

        text = Text(time.strftime("%H:%M:%S ", time.localtime(at)), style="dim")
        text.append(f"{name:<24}", style=STYLES.get(level, "cyan"))
        text.append(" " + fields, style="red" if level == "ERROR" else "")
        self.console.print(text)


def event_printer(sink: PlainLog | RichLog) -> Callable[[Event], None]:
    quiet_events = getattr(sink, "quiet_events", frozenset())
    quiet_fields = getattr(sink, "quiet_fields", frozenset())

    def on_event(event: Event) -> None:
        name = event_name(event)
        if name in quiet_events or event.name in NEVER_LOGGED:
            return
        values = {k: v for k, v in event.fields().items() if k not in quiet_fields}
        sink.line(event.at, LEVELS.get(event.name, "INFO"), name, sink.render(values))

    return on_event


class SinkHandler(logging.Handler):
    """Routes the engine's own `logging` records to the same sink as events."""

    def __init__(self, sink: PlainLog | RichLog) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        level = {"WARNING": "WARN", "CRITICAL": "ERROR"}.get(record.levelname, record.levelname)
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f" ({type(record.exc_info[1]).__name__})"
        self.sink.line(record.created, level, record.name, self.sink.render({"msg": message}))
