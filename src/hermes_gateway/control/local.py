"""GatewayHandle for an engine in this process (the TUI's embedded mode, and what the control
socket server answers with)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from hermes_gateway.control.snapshot import (
    ApprovalView,
    PlatformView,
    SessionView,
    Snapshot,
    TaskView,
)
from hermes_gateway.core.events import (
    Event,
    MessageReceived,
    MessageSent,
    PlatformStatusChanged,
    SendFailed,
    SessionChanged,
)
from hermes_gateway.core.types import ChatType, Platform, SessionSource

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine

TAIL_LINES = 3


class LocalHandle:
    def __init__(self, engine: Engine, mode: str = "embedded") -> None:
        self.engine = engine
        self.mode = mode
        self._platforms: dict[str, dict] = {}  # name -> since, in, out, last_error
        self._session_state: dict[str, str] = {}
        self._unlisten = engine.bus.listen(self._count)

    # -- what the engine is doing ----------------------------------------------------------
    def _count(self, event: Event) -> None:
        """Counters the snapshot shows, kept from the event stream (cheap, no engine changes)."""
        if isinstance(event, PlatformStatusChanged):
            stats = self._stats(event.platform)
            stats["since"] = event.at
            if event.state == "failed":
                stats["last_error"] = event.detail
        elif isinstance(event, MessageReceived):
            self._stats(event.platform)["in"] += 1
        elif isinstance(event, MessageSent):
            self._stats(event.platform)["out"] += 1
        elif isinstance(event, SendFailed):
            self._stats(event.platform)["last_error"] = event.error
        elif isinstance(event, SessionChanged):
            self._session_state[event.session_key] = event.state

    def _stats(self, name: str) -> dict:
        return self._platforms.setdefault(name, {"since": 0.0, "in": 0, "out": 0, "last_error": ""})

    async def snapshot(self) -> Snapshot:
        engine = self.engine
        target = engine.runtime.default
        return Snapshot(
            mode=self.mode,
            home=str(engine.settings.home.root),
            provider=target.provider,
            model=target.model,
            platforms=self._platform_views(),
            sessions=self._session_views(),
            approvals=[
                ApprovalView(
                    p.id,
                    p.session_key,
                    p.platform,
                    p.chat_id,
                    p.command,
                    p.reason,
                    p.created_at,
                    p.expires_at,
                )
                for p in engine.approvals.pending()
            ],
            tasks=self._task_views(),
        )

    def _platform_views(self) -> list[PlatformView]:
        views = []
        for name, state in self.engine.platform_state.items():
            stats = self._stats(name)
            views.append(
                PlatformView(
                    name,
                    state,
                    self.engine.platform_reason.get(name, ""),
                    stats["since"],
                    stats["in"],
                    stats["out"],
                    stats["last_error"],
                )
            )
        return views

    def _session_views(self) -> list[SessionView]:
        engine = self.engine
        views = []
        for record in engine.store.sessions_active():
            if ":" in record.key and record.key.split(":", 1)[0] in ("bg", "cron"):
                continue  # background runs show up as tasks
            lane = engine.lanes.get(record.key)
            state = self._session_state.get(record.key, "idle")
            if lane is not None and not lane.busy and state == "running":
                state = "idle"
            target = engine.runtime.resolved(record.model)
            views.append(
                SessionView(
                    record.key,
                    record.id,
                    record.platform,
                    record.chat_id,
                    record.user_name or record.user_id,
                    state,
                    f"{target.provider}:{target.model}",
                    record.last_active,
                    record.input_tokens,
                    record.output_tokens,
                    record.title,
                )
            )
        return views

    def _task_views(self) -> list[TaskView]:
        engine = self.engine
        views = [
            TaskView(t.id, "background", t.title, t.state, t.origin_key, t.error, t.started_at)
            for t in engine.background.list()
        ]
        processes = engine.services.processes
        for p in processes.list() if processes else []:
            tail = processes.log(p.id, TAIL_LINES) if p.lines else ""
            views.append(
                TaskView(p.id, "process", p.command, p.state, p.session_key, tail, p.started_at)
            )
        for job in engine.services.cron.list():
            state = "paused" if not job.enabled else (job.last_status or "scheduled")
            views.append(
                TaskView(job.id, "cron", job.name, state, "", job.schedule, job.next_run or 0.0)
            )
        return views

    def events(self) -> AsyncIterator[Event]:
        return self.engine.bus.subscribe(maxsize=2000)

    # -- commands ---------------------------------------------------------------------------
    async def resolve_approval(self, approval_id: str, choice: str) -> bool:
        return self.engine.resolve_approval(approval_id, choice, by="operator") is not None

    async def transcript(self, session_id: str, limit: int = 200) -> list[dict]:
        entries = self.engine.store.transcript(session_id)[-max(1, limit) :]
        return [
            {"role": e.role, "content": e.content, "tool_calls": e.tool_calls, "name": e.name}
            for e in entries
        ]

    async def kill_process(self, process_id: str) -> bool:
        processes = self.engine.services.processes
        info = processes.get(process_id) if processes else None
        if info is None or info.state != "running":
            return False
        await processes.kill(process_id)
        return True

    async def stop_session(self, key: str) -> bool:
        return self.engine.stop_session(key)

    async def reset_session(self, key: str) -> bool:
        engine = self.engine
        current = engine.store.session_current(key)
        if current is None:
            return False
        engine.stop_session(key)
        engine.approvals.clear_session(key)
        source = SessionSource(
            Platform(current.platform),
            current.chat_id,
            ChatType(current.chat_type),
            current.user_id,
            current.user_name,
            current.thread_id,
            current.chat_name,
        )
        engine.sessions.start_new(source, key, "reset by the operator")
        return True

    async def reconnect_platform(self, name: str) -> None:
        await self.engine.reconnect_platform(name)

    async def disable_platform(self, name: str) -> None:
        await self.engine.disable_platform(name)

    async def approve_pairing(self, platform: str, code: str) -> str:
        from hermes_gateway.security.pairing import PairingError

        try:
            record = self.engine.pairing.approve(platform, code)
        except PairingError as exc:
            raise ValueError(str(exc)) from None
        who = record.user_name or record.user_id
        return f"Approved {who} on {platform}."

    async def revoke_pairing(self, platform: str, user_id: str) -> bool:
        return self.engine.pairing.revoke(platform, user_id)

    async def run_cron(self, job_id: str) -> None:
        await self.engine.services.cron.run_now(job_id)

    async def pause_cron(self, job_id: str, paused: bool = True) -> None:
        cron = self.engine.services.cron
        cron.pause(job_id) if paused else cron.resume(job_id)

    async def send_console(self, text: str) -> None:
        console = self.engine.console
        if console is None:
            raise RuntimeError("the console platform is disabled (platforms.console.enabled)")
        await console.inject(text)

    async def close(self) -> None:
        self._unlisten()
