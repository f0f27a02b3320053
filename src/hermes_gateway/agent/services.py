"""The engine's services that tools use. Built once by the engine; each is optional so a tool
can be tested with only what it needs."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hermes_gateway.core.bus import EventBus
    from hermes_gateway.core.types import SessionSource
    from hermes_gateway.home import HermesHome
    from hermes_gateway.storage.base import Store


@dataclass
class AgentServices:
    home: HermesHome
    store: Store | None = None
    bus: EventBus | None = None
    settings: Any = None
    clock: Callable[[], float] = time.time
    approvals: Any = None  # agent.approvals.ApprovalManager
    processes: Any = None  # scheduler.processes.ProcessManager
    cron: Any = None  # scheduler.cron.CronService
    checkpoints: Any = None  # agent.checkpoints.Checkpoints
    # send_message(target, text, origin) -> a sentence saying where it went; raises ToolError.
    # target: "platform:chat_id", "platform" (its home channel) or "" (the origin chat).
    send_message: Callable[[str, str, SessionSource | None], Awaitable[str]] | None = None
    # Tool settings from config (`tools.*`), e.g. {"web_fetch": {"allow_private": True}}.
    tool_settings: dict[str, Any] = field(default_factory=dict)
