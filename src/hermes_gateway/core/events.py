"""Typed engine events. Each is a frozen dataclass; none carries a message body or a secret."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    # Progress-like events may be dropped (oldest first) when a subscriber lags;
    # everything else is kept.
    droppable: ClassVar[bool] = False
    at: float = field(default_factory=time.time, kw_only=True)

    @property
    def name(self) -> str:
        return type(self).__name__

    def fields(self) -> dict[str, Any]:
        """The event's own fields (without the timestamp), for log lines and the control socket."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "at"}


@dataclass(frozen=True)
class EngineStarted(Event):
    home: str
    platforms: tuple[str, ...]
    provider: str
    model: str


@dataclass(frozen=True)
class EngineStopping(Event):
    reason: str


@dataclass(frozen=True)
class EngineWarning(Event):
    message: str


@dataclass(frozen=True)
class EngineError(Event):
    message: str
    session_key: str = ""


@dataclass(frozen=True)
class PlatformStatusChanged(Event):
    platform: str
    state: str  # connecting | connected | failed | disabled | stopped
    detail: str = ""


@dataclass(frozen=True)
class MessageReceived(Event):
    platform: str
    chat_id: str
    user_id: str
    message_id: str
    session_key: str
    chars: int


@dataclass(frozen=True)
class MessageIgnored(Event):
    platform: str
    chat_id: str
    user_id: str
    reason: str  # unauthorized | duplicate | not-addressed | empty


@dataclass(frozen=True)
class MessageSent(Event):
    platform: str
    chat_id: str
    message_id: str
    chars: int
    outbox_id: int = 0


@dataclass(frozen=True)
class SendFailed(Event):
    platform: str
    chat_id: str
    error: str
    outbox_id: int = 0


@dataclass(frozen=True)
class SessionChanged(Event):
    session_key: str
    session_id: str
    state: str  # idle | running | queued | waiting-approval | reset | stopped
    detail: str = ""


@dataclass(frozen=True)
class TurnStarted(Event):
    session_key: str
    session_id: str
    merged: int  # how many inbound messages this turn answers


@dataclass(frozen=True)
class TurnFinished(Event):
    session_key: str
    session_id: str
    status: str  # ok | interrupted | stopped | error
    duration_ms: float
    input_tokens: int = 0
    output_tokens: int = 0
    error: str = ""


@dataclass(frozen=True)
class ToolProgress(Event):
    droppable: ClassVar[bool] = True
    session_key: str
    tool: str
    emoji: str
    preview: str
    status: str  # started | ok | error
    duration_ms: float = 0.0


@dataclass(frozen=True)
class PairingRequested(Event):
    platform: str
    user_id: str
    user_name: str = ""


@dataclass(frozen=True)
class PairingChanged(Event):
    platform: str
    user_id: str
    state: str  # approved | revoked | locked | cleared


@dataclass(frozen=True)
class ApprovalRequested(Event):
    approval_id: str
    session_key: str
    platform: str
    chat_id: str
    command: str
    reason: str
    expires_at: float


@dataclass(frozen=True)
class ApprovalResolved(Event):
    approval_id: str
    session_key: str
    decision: str  # once | session | always | deny | timeout | auto (allowlisted, mode off)
    by: str  # user id, "operator", "timeout", "stop"


@dataclass(frozen=True)
class TaskChanged(Event):
    task_id: str  # bg_HHMMSS_xxxxxx
    session_key: str  # the chat that started it
    state: str  # running | done | failed
    title: str
    detail: str = ""


@dataclass(frozen=True)
class ProcessChanged(Event):
    process_id: str
    session_key: str
    command: str
    state: str  # running | exited | killed
    pid: int = 0
    exit_code: int | None = None


@dataclass(frozen=True)
class ProcessOutput(Event):
    droppable: ClassVar[bool] = True
    process_id: str
    session_key: str
    lines: int  # how many new output lines (the text stays in the process's ring buffer)


@dataclass(frozen=True)
class CronRun(Event):
    job_id: str
    job_name: str  # not `name`: Event.name is the event's type name
    status: str  # started | ok | error | delivery-failed
    detail: str = ""


@dataclass(frozen=True)
class ConsoleReply(Event):
    """What the agent said in the local console (the operator's own chat): the one event with a
    message body, for the TUI's console pane. Log sinks never print it."""

    chat_id: str
    text: str
