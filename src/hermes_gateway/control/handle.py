"""GatewayHandle: everything a control center may ask of an engine. Answers come back as
return values for queries and as engine events for everything that changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from hermes_gateway.control.snapshot import Snapshot
from hermes_gateway.core.events import Event


class GatewayHandle(Protocol):
    mode: str  # "embedded" (the engine runs in this process) | "attached" (a running service)

    async def snapshot(self) -> Snapshot: ...

    def events(self) -> AsyncIterator[Event]:
        """Engine events from now on (bounded; progress may be dropped, approvals never)."""

    async def resolve_approval(self, approval_id: str, choice: str) -> bool:
        """choice: once | session | always | deny. False if it was no longer pending."""

    async def transcript(self, session_id: str, limit: int = 200) -> list[dict]:
        """The newest `limit` entries of a session, oldest first: role, content, tool_calls,
        name (JSON-ready)."""

    async def kill_process(self, process_id: str) -> bool:
        """Stop a background process and its children. False if it had already ended."""

    async def stop_session(self, key: str) -> bool: ...

    async def reset_session(self, key: str) -> bool: ...

    async def reconnect_platform(self, name: str) -> None: ...

    async def disable_platform(self, name: str) -> None: ...

    async def approve_pairing(self, platform: str, code: str) -> str:
        """A sentence saying who was approved; raises ValueError with the reason otherwise."""

    async def revoke_pairing(self, platform: str, user_id: str) -> bool: ...

    async def run_cron(self, job_id: str) -> None: ...

    async def pause_cron(self, job_id: str, paused: bool = True) -> None: ...

    async def send_console(self, text: str) -> None:
        """Type into the console chat as the local operator (replies arrive as events)."""

    async def close(self) -> None: ...
