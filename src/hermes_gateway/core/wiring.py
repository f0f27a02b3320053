"""Builds what the agent's tools use from the engine: the services and the tool registry.

Kept apart from the engine so the engine stays about routing; every callback here turns a
service's need ("tell this chat", "send there") into the engine's one outbound path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hermes_gateway.agent.checkpoints import Checkpoints
from hermes_gateway.agent.services import AgentServices
from hermes_gateway.agent.tools.base import ToolError
from hermes_gateway.agent.tools.registry import ToolRegistry
from hermes_gateway.core.events import SessionChanged
from hermes_gateway.core.prompts import ApprovalPrompts, SentPrompt
from hermes_gateway.core.types import OutboundMessage, Platform, SendResult, SessionSource
from hermes_gateway.storage.records import NewOutbox, OutboxRow

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine


def workdir(engine: Engine) -> Path:
    """The agents' working directory: `terminal.cwd` from config, else HERMES_HOME/workspace."""
    configured = (engine.settings.raw.get("terminal") or {}).get("cwd")
    path = Path(str(configured)).expanduser() if configured else engine.settings.home.workspace_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_tools() -> ToolRegistry:
    from hermes_gateway.agent.tools import (
        cronjob,
        files,
        messaging,
        process,
        search,
        terminal,
        web,
    )

    modules = (terminal, process, files, search, web, cronjob, messaging)
    return ToolRegistry([tool for module in modules for tool in module.TOOLS])


def build_services(engine: Engine) -> AgentServices:
    settings = engine.settings
    return AgentServices(
        home=settings.home,
        store=engine.store,
        bus=engine.bus,
        settings=settings,
        clock=engine.clock,
        send_message=lambda target, text, origin: send_message(engine, target, text, origin),
        tool_settings=dict(settings.raw.get("tools") or {}),
        cron=build_cron(engine),
        approvals=build_approvals(engine),
        processes=build_processes(engine),
        checkpoints=Checkpoints(settings.home.checkpoints_dir, engine.clock),
    )


def build_processes(engine: Engine):
    from hermes_gateway.scheduler.processes import ProcessManager

    async def notify(info, text: str) -> None:
        if isinstance(info.origin, SessionSource):
            engine.queue_reply(info.origin, text, info.session_key)

    return ProcessManager(
        bus=engine.bus,
        clock=engine.clock,
        notify=notify,
        notifications=engine.settings.display.background_process_notifications,
    )


def build_approvals(engine: Engine):
    from hermes_gateway.agent.approvals import (
        ApprovalManager,
        approval_buttons,
        approval_message,
    )

    settings = engine.settings
    # Where prompts with buttons went, so that they lose them however the approval ends.
    prompts = ApprovalPrompts(engine.adapter, engine._spawn)
    engine.bus.listen(prompts.on_event)

    async def notify(pending) -> None:
        engine.bus.publish(SessionChanged(pending.session_key, "", "waiting-approval"))
        message = OutboundMessage(
            pending.chat_id,
            approval_message(pending),
            thread_id=pending.thread_id,
            buttons=approval_buttons(pending),
        )
        prompts.sending(pending.id)
        shown = None
        try:
            result = await send_direct(engine, pending.platform, message)
            if result is not None and result.ok and result.message_id:
                shown = SentPrompt(pending.platform, message, result.message_id)
        finally:
            prompts.sent(pending.id, shown)

    return ApprovalManager(
        store=engine.store,
        bus=engine.bus,
        clock=engine.clock,
        timeout=settings.approvals.timeout,
        mode=settings.approvals.mode,
        unattended=settings.approvals.unattended,
        allowlist=settings.command_allowlist,
        config_path=settings.home.config_yaml,
        hermes_home=settings.home.root,
        notify=notify,
    )


def build_cron(engine: Engine):
    from hermes_gateway.scheduler.cron import CronService

    async def run_job(job) -> str:
        origin = job.origin
        source = None
        if origin and origin.platform:
            source = SessionSource(
                Platform(origin.platform), origin.chat_id, thread_id=origin.thread_id
            )
        run_id = f"{job.id}_{int(engine.clock())}"
        return await engine.turns.run_isolated(
            job.prompt,
            prefix="cron",
            run_id=run_id,
            source=source,
            tool_key=f"cron:{job.id}",
            unattended=True,
        )

    async def deliver(job, text: str) -> None:
        target = job.target()
        chat_id = engine.home_channel(target.platform) if target.home else target.chat_id
        if not target.platform or not chat_id:
            raise ToolError(
                f"{job.describe_target()} has no chat to deliver to (set a home "
                "channel with /sethome)"
            )
        row = NewOutbox(target.platform, chat_id, text, target.thread_id)
        outbox_id = engine.store.outbox_add(row, engine.clock())
        if not await engine.sender.deliver(outbox_row(outbox_id, row)):
            raise ToolError(f"could not send to {target.platform}:{chat_id}")

    return CronService(
        engine.store, run_job=run_job, deliver=deliver, bus=engine.bus, clock=engine.clock
    )


async def send_message(engine: Engine, target: str, text: str, origin: SessionSource | None) -> str:
    """The send_message tool: 'platform:chat_id', 'platform' (its home channel) or '' (origin)."""
    if not target:
        if origin is None:
            raise ToolError("there is no chat to answer here; give a target like telegram:123")
        engine.queue_reply(origin, text)
        return "Sent to this chat."
    name, _, chat_id = target.partition(":")
    name = name.strip().lower()
    if name not in {p.value for p in Platform}:
        known = ", ".join(p.value for p in Platform)
        raise ToolError(f"unknown platform {name!r}; use one of {known}")
    chat_id = chat_id.strip() or engine.home_channel(name)
    if not chat_id:
        raise ToolError(
            f"{name} has no home channel: send /sethome in the chat you want, or set "
            f"{Platform(name).env_prefix}_HOME_CHANNEL"
        )
    engine.queue_to(name, chat_id, text)
    if engine.adapter(name) is None:
        return f"Queued for {name}:{chat_id}; {name} is not connected, so it goes out when it is."
    return f"Sent to {name}:{chat_id}."


def outbox_row(outbox_id: int, row: NewOutbox) -> OutboxRow:
    return OutboxRow(
        outbox_id,
        row.platform,
        row.chat_id,
        row.text,
        row.thread_id,
        row.reply_to,
        row.session_key,
        edit_message_id=row.edit_message_id,
    )


async def send_direct(engine: Engine, platform: str, message: OutboundMessage) -> SendResult | None:
    """Status messages (approval prompts, pairing codes): straight to the adapter. None when
    the platform is not connected."""
    adapter = engine.adapter(platform)
    if adapter is None:
        return None
    if message.buttons and not adapter.capabilities.buttons:
        message = OutboundMessage(message.chat_id, message.text, message.thread_id)
    return await adapter.send(message)
