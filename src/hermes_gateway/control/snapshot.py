"""A point-in-time picture of the engine, as plain data (JSON-ready) for a control center."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlatformView:
    name: str
    state: str  # connected | connecting | failed | disabled | stopped
    detail: str = ""
    since: float = 0.0
    messages_in: int = 0
    messages_out: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class SessionView:
    key: str
    session_id: str
    platform: str
    chat_id: str
    user: str
    state: str  # idle | running | queued | waiting-approval
    model: str
    last_active: float
    tokens_in: int = 0
    tokens_out: int = 0
    title: str = ""


@dataclass(frozen=True)
class ApprovalView:
    id: str
    session_key: str
    platform: str
    chat_id: str
    command: str
    reason: str
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class TaskView:
    id: str
    kind: str  # background | process | cron
    title: str
    state: str
    session_key: str = ""
    detail: str = ""  # a process's output tail, a cron job's schedule and next run
    started_at: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    mode: str  # embedded | attached
    home: str
    provider: str
    model: str
    platforms: list[PlatformView] = field(default_factory=list)
    sessions: list[SessionView] = field(default_factory=list)
    approvals: list[ApprovalView] = field(default_factory=list)
    tasks: list[TaskView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            mode=data["mode"],
            home=data["home"],
            provider=data["provider"],
            model=data["model"],
            platforms=[PlatformView(**p) for p in data.get("platforms", [])],
            sessions=[SessionView(**s) for s in data.get("sessions", [])],
            approvals=[ApprovalView(**a) for a in data.get("approvals", [])],
            tasks=[TaskView(**t) for t in data.get("tasks", [])],
        )
