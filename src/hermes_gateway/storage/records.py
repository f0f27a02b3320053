"""Rows as the rest of the engine sees them, independent of the backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SessionRecord:
    id: str
    key: str
    platform: str
    chat_id: str
    chat_type: str
    thread_id: str = ""
    user_id: str = ""
    user_name: str = ""
    chat_name: str = ""
    title: str = ""
    model: str = ""  # "provider:model" override for this session; "" = the configured default
    created_at: float = 0.0
    last_active: float = 0.0
    ended_at: float | None = None
    end_reason: str = ""
    reset_notice: str = ""  # shown once with the first reply after an automatic reset
    input_tokens: int = 0
    output_tokens: int = 0
    parent_id: str = ""  # the session a /compress continuation summarises


@dataclass(frozen=True)
class TranscriptEntry:
    """One chat-completions message: role user|assistant|tool|system."""

    role: str
    content: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str = ""
    name: str = ""
    turn: int = 0

    def to_openai(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = self.tool_calls
        if self.tool_call_id:
            msg["tool_call_id"] = self.tool_call_id
        if self.name and self.role == "tool":
            msg["name"] = self.name
        return msg


@dataclass(frozen=True)
class InboxRow:
    id: int
    platform: str
    chat_id: str
    message_id: str
    payload: dict[str, Any]
    status: str
    received_at: float


@dataclass(frozen=True)
class OutboxRow:
    id: int
    platform: str
    chat_id: str
    text: str
    thread_id: str = ""
    reply_to: str = ""
    session_key: str = ""
    status: str = "pending"
    attempts: int = 0
    edit_message_id: str = ""  # a streamed message to turn into this reply, instead of sending


@dataclass(frozen=True)
class NewOutbox:
    platform: str
    chat_id: str
    text: str
    thread_id: str = ""
    reply_to: str = ""
    session_key: str = ""
    edit_message_id: str = ""


@dataclass(frozen=True)
class PairingRecord:
    platform: str
    user_id: str
    user_name: str
    state: str  # pending | approved
    code_hash: str
    salt: str
    requested_at: float
    expires_at: float
    approved_at: float | None = None


@dataclass(frozen=True)
class UsageTotals:
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0
    by_model: dict[str, tuple[int, int]] = field(default_factory=dict)
