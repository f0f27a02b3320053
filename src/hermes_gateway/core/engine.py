"""The engine: owns the adapters, routes every inbound message (DESIGN.md §2) and publishes
every step on the event bus. UI-free: the CLI, the service and the TUI all drive this class."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from hermes_gateway.agent import personalities
from hermes_gateway.agent.runtime import AgentRuntime
from hermes_gateway.agent.skills import SkillLibrary
from hermes_gateway.commands import build_registry
from hermes_gateway.config import load_settings
from hermes_gateway.core import wiring
from hermes_gateway.core.actions import handle_button
from hermes_gateway.core.background import BackgroundTasks
from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import (
    EngineStarted,
    EngineStopping,
    EngineWarning,
    MessageIgnored,
    MessageReceived,
    PairingRequested,
    PlatformStatusChanged,
    SessionChanged,
)
from hermes_gateway.core.outbound import Outbound
from hermes_gateway.core.turns import Pending, TurnRunner
from hermes_gateway.core.types import (
    ChatType,
    InboundMessage,
    Platform,
    SessionSource,
    message_from_payload,
    message_to_payload,
)
from hermes_gateway.delivery.sender import Sender
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.registry import adapter_class
from hermes_gateway.security.access import build_authorizer
from hermes_gateway.security.pairing import PairingManager
from hermes_gateway.sessions.lane import Lane
from hermes_gateway.sessions.manager import SessionManager
from hermes_gateway.storage.base import Store

log = logging.getLogger("hermes.engine")

INTERRUPT_ACK = "⚡ Interrupted — reading your new message."
DRAIN_TIMEOUT = 2.0
# Pairing answers worth a reply; repeats while a code is pending stay silent (no spam loop).
PAIRING_REPLIES = {"issued", "too-many-pending", "locked"}


class Engine(Outbound):
    def __init__(
        self,
        settings,
        store: Store,
        *,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.time,
        runtime=None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.bus = bus or EventBus()
        self.clock = clock
        self.runtime = runtime or AgentRuntime(settings.model, settings.env)
        self.sessions = SessionManager(store, settings, clock)
        self.authorizer = build_authorizer(settings, store)
        self.pairing = PairingManager(store, clock)
        self.commands = build_registry()
        self.turns = TurnRunner(self)
        self.workdir = wiring.workdir(self)
        self.tools = wiring.build_tools()
        self.services = wiring.build_services(self)
        self.approvals = self.services.approvals
        self.background = BackgroundTasks(self)
        self.skills = SkillLibrary(settings.home.skills_dir)
        self.mcp = None  # MCPManager once mcp_servers are configured
        self.personalities = personalities.available(
            (settings.raw.get("agent") or {}).get("personalities")
        )
        self.sender = Sender(store, self.bus, self.adapter, clock)
        self.adapters: dict[str, Adapter] = {}
        self.platform_state: dict[str, str] = {}
        self.platform_reason: dict[str, str] = {}  # why it is in that state ("" when fine)
        self.lanes: dict[str, Lane] = {}
        self.home_channels: dict[str, str] = {}  # set by /sethome while running
        self._tasks: set[asyncio.Task] = set()
        self._loops: list[asyncio.Task] = []  # schedulers that run until stop
        self._stopped = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        enabled = [p for p in Platform if self.settings.platforms[p.value].enabled]
        target = self.runtime.default
        self.bus.publish(
            EngineStarted(
                str(self.settings.home.root),
                tuple(p.value for p in enabled),
                target.provider,
                target.model,
            )
        )
        # What a crash or a shutdown left unanswered, read before the adapters connect: one
        # that delivers while connecting routes its messages itself (twice would interrupt).
        unanswered = list(self.store.inbox_pending())
        await asyncio.gather(*(self._connect(p) for p in enabled))
        warning = self.authorizer.startup_warning()  # after connecting: adapters may vouch
        if warning:
            self.bus.publish(EngineWarning(warning))
        for row in unanswered:
            self._route(row.id, message_from_payload(row.payload))
        for name in self.adapters:  # replies a crash or an outage left unsent
            self._spawn(self.flush_outbox(name))
        self._loops.append(asyncio.create_task(self.services.cron.run_forever(), name="cron"))
        if self.settings.raw.get("mcp_servers"):
            self._spawn(self.reload_mcp(self.settings.raw["mcp_servers"]))

    async def _connect(self, platform: Platform) -> None:
        name = platform.value
        report = self._status_reporter(name)
        try:
            cls = adapter_class(platform)
            adapter = cls(
                self.settings.platforms[name],
                AdapterContext(
                    self.settings.home,
                    self.ingest,
                    report,
                    deliver_action=lambda press: handle_button(self, press),
                    command_menu=self.commands.menu(),
                    publish=self.bus.publish,
                    listen=self.bus.listen,
                ),
            )
            if adapter.vouches:
                self.authorizer.vouchers[name] = adapter.vouches_for
            report("connecting", "")
            await adapter.connect()
        except Exception as exc:  # one dead platform never stops the others
            report("failed", self.describe_error(exc))
            return
        self.adapters[name] = adapter

    def _status_reporter(self, name: str) -> Callable[[str, str], None]:
        def report(state: str, detail: str) -> None:
            previous = self.platform_state.get(name)
            self.platform_state[name] = state
            self.platform_reason[name] = detail
            self.bus.publish(PlatformStatusChanged(name, state, detail))
            if state == "connected" and previous != "connected":
                self._spawn(self.flush_outbox(name))  # (back) online: send what waited

        return report

    async def reconnect_platform(self, name: str) -> None:
        """Drop the platform's connection (if any) and connect it again (operator action)."""
        await self.disable_platform(name, state="stopped")
        await self._connect(Platform(name))

    async def disable_platform(self, name: str, state: str = "disabled") -> None:
        adapter = self.adapters.pop(name, None)
        self.authorizer.vouchers.pop(name, None)  # a disabled platform admits nobody its way
        if adapter is not None:
            try:
                await asyncio.wait_for(adapter.disconnect(), timeout=DRAIN_TIMEOUT)
            except Exception as exc:
                log.warning("disconnecting %s failed: %s", name, exc)
        self._status_reporter(name)(state, "by the operator" if state == "disabled" else "")

    async def stop(self, reason: str = "stop") -> None:
        """Cancel running turns (their messages stay in the inbox), finish sends in flight,
        disconnect. Bounded: returns within about DRAIN_TIMEOUT seconds."""
        self.bus.publish(EngineStopping(reason))
        for loop in self._loops:
            loop.cancel()
        for lane in self.lanes.values():
            lane.cancel()
        await self.background.shutdown()
        await self.services.processes.shutdown()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=DRAIN_TIMEOUT)
        for task in list(self._tasks):
            task.cancel()
        for adapter in list(self.adapters.values()):
            try:
                await asyncio.wait_for(adapter.disconnect(), timeout=DRAIN_TIMEOUT)
            except Exception as exc:
                log.warning("disconnecting %s failed: %s", adapter.platform.value, exc)
        self.adapters.clear()
        if self.mcp is not None:
            await self.mcp.close()
        await self.runtime.aclose()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def adapter(self, platform: str) -> Adapter | None:
        return self.adapters.get(platform)

    @property
    def console(self):
        return self.adapters.get(Platform.CONSOLE.value)

    # -- inbound -------------------------------------------------------------------
    async def ingest(self, message: InboundMessage) -> bool:
        """Called by adapters. Returns once the message is durable in the inbox (the adapter
        may then acknowledge it); False if it was a replay of one already received."""
        src = message.source
        if not message.text.strip() and not message.attachments:
            self.bus.publish(MessageIgnored(src.platform.value, src.chat_id, src.user_id, "empty"))
            return True
        inbox_id = self.store.inbox_add(
            src.platform.value,
            src.chat_id,
            message.message_id,
            message_to_payload(message),
            self.clock(),
            self.sessions.key_for(src),
        )
        if inbox_id is None:
            self.bus.publish(
                MessageIgnored(src.platform.value, src.chat_id, src.user_id, "duplicate")
            )
            return False
        self._route(inbox_id, message)
        return True

    def _route(self, inbox_id: int, message: InboundMessage) -> None:
        src = message.source
        platform = src.platform.value
        if not self.authorizer.check(platform, src.user_id).allowed:
            self._ignore(inbox_id, src, "unauthorized")
            if (
                src.chat_type is ChatType.DM
                and src.user_id
                and self.settings.unauthorized_dm_behavior == "pair"
                and getattr(self.adapters.get(platform), "offers_pairing", True)
            ):
                self._offer_pairing(src)
            return
        if src.chat_type is not ChatType.DM and not message.addressed:
            self._ignore(inbox_id, src, "not-addressed")
            return
        key = self.sessions.key_for(src)
        self.bus.publish(
            MessageReceived(
                platform, src.chat_id, src.user_id, message.message_id, key, len(message.text)
            )
        )
        parsed = self.commands.parse(message.text)
        if parsed is not None:
            self._spawn(self.commands.run(self, parsed, message, inbox_id, key))
            return
        self.submit(key, Pending(inbox_id, message))

    def submit(self, key: str, pending: Pending) -> None:
        lane = self.lane(key)
        outcome = lane.submit(pending)
        if outcome == "interrupting":
            self.queue_reply(pending.message.source, INTERRUPT_ACK, key)
        if outcome != "started":
            current = self.store.session_current(key)
            self.bus.publish(SessionChanged(key, current.id if current else "", "queued"))

    def lane(self, key: str) -> Lane:
        if key not in self.lanes:
            self.lanes[key] = Lane(
                key,
                lambda batch, control: self.turns.run(key, batch, control),
                self.settings.busy_input_mode,
            )
        return self.lanes[key]

    def stop_session(self, key: str) -> bool:
        """Interrupt the session's turn without a follow-up; what waited is dropped."""
        self.approvals.deny_all(key, "stop", "the user stopped the agent")
        lane = self.lanes.get(key)
        if lane is None or not lane.busy:
            return False
        dropped = lane.stop()
        ids = [p.inbox_id for p in dropped if p.inbox_id is not None]
        self.store.inbox_finish(ids, "stopped", self.clock())
        return True

    def set_home_channel(self, platform: str, chat_id: str) -> None:
        self.home_channels[platform] = chat_id

    def home_channel(self, platform: str) -> str:
        return self.home_channels.get(platform) or self.settings.platforms[platform].home_channel

    def personality_prompt(self, key: str) -> str:
        name = self.store.prefs(key).get("personality", "")
        return self.personalities.get(name, "")

    def model_options(self, key: str) -> dict:
        """Extra request fields for this chat's model calls (/reasoning)."""
        level = self.store.prefs(key).get("reasoning", "")
        return {"reasoning_effort": level} if level else {}

    def run_skill(
        self, key: str, message: InboundMessage, inbox_id: int, name: str, args: str
    ) -> bool:
        """`/<skill-name> args`: one turn with the skill's instruction. False if no such skill."""
        skill = self.skills.get(name)
        if skill is None:
            return False
        instruction = self.skills.instruction(skill, args)
        self.submit(key, Pending(inbox_id, dataclasses.replace(message, text=instruction)))
        return True

    async def reload_mcp(self, servers=None) -> list[str]:
        """(Re)connect the MCP servers (from config.yaml when not given); their tools replace
        the previous MCP tools. Returns one line per server."""
        from hermes_gateway.agent.mcp_tools import MCPManager

        if servers is None:
            servers = load_settings(self.settings.home).raw.get("mcp_servers") or {}
        if self.mcp is None:
            self.mcp = MCPManager(servers, log_dir=self.settings.home.logs_dir)
            lines = await self.mcp.start()
        else:
            lines = await self.mcp.reload(servers)
        self.tools.replace(self.mcp.tools(), prefix="mcp_")
        for line in lines:
            log.info("mcp %s", line)
        return lines

    def resolve_approval(self, approval_id: str, choice: str, by: str = "operator"):
        """The operator's path (TUI, control socket): resolve one approval by id."""
        return self.approvals.resolve(None, choice, by=by, approval_id=approval_id)

    def is_protected(self, key: str) -> bool:
        """Sessions with a pending approval or a live background process are never reset."""
        processes = self.services.processes
        return self.approvals.has_pending(key) or bool(processes and processes.has_live(key))

    def _ignore(self, inbox_id: int, src: SessionSource, reason: str) -> None:
        self.store.inbox_finish([inbox_id], "ignored", self.clock(), reason)
        self.bus.publish(MessageIgnored(src.platform.value, src.chat_id, src.user_id, reason))

    def _offer_pairing(self, src: SessionSource) -> None:
        outcome = self.pairing.request(src.platform.value, src.user_id, src.user_name)
        if outcome.status == "issued":
            self.bus.publish(PairingRequested(src.platform.value, src.user_id, src.user_name))
        if outcome.status in PAIRING_REPLIES:
            # Sent directly, not through the outbox: the code must never be stored in clear.
            self._spawn(self._send_direct(src, outcome.message))

    # -- helpers ----------------------------------------------------------------------
    def describe_error(self, exc: BaseException) -> str:
        text = str(exc).strip()
        return text if text else type(exc).__name__

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background task failed: %s", self.describe_error(exc), exc_info=exc)
