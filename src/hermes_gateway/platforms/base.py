"""The interface every platform adapter implements. Adapters never touch the store or the
sessions: they turn platform traffic into InboundMessages and send what the engine hands them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hermes_gateway.core.types import (
    ButtonPress,
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Platform,
    SendResult,
)
from hermes_gateway.home import HermesHome


@dataclass
class AdapterContext:
    """What the engine gives an adapter."""

    home: HermesHome
    # Persists the message (inbox) and returns once it is durable: only then may the adapter
    # acknowledge it to the platform. Returns False for a duplicate (still acknowledge it).
    deliver_inbound: Callable[[InboundMessage], Awaitable[bool]]
    # connecting | connected | failed | disabled | stopped, with a human reason.
    report_status: Callable[[str, str], None]
    # A button press (e.g. an approval's "Allow once"); returns a short text to show the user.
    deliver_action: Callable[[ButtonPress], Awaitable[str]] | None = None
    # The chat commands as (name, description), for platforms with a command menu.
    command_menu: list[tuple[str, str]] | None = None
    # Publish an engine event (the console uses it to show its replies in the TUI).
    publish: Callable[[Any], None] | None = None
    # Follow engine events synchronously (e.g. MessageReceived / TurnFinished to show a
    # processing reaction); returns the unsubscribe. The callback must not block.
    listen: Callable[[Callable[[Any], None]], Callable[[], None]] | None = None


class Adapter(ABC):
    platform: Platform
    capabilities: Capabilities = Capabilities()
    # False: an unknown user's DM is ignored without a pairing offer (e-mail: a code sent to
    # every spammer would be backscatter), whatever unauthorized_dm_behavior says.
    offers_pairing: bool = True

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context

    @abstractmethod
    async def connect(self) -> None:
        """Start receiving. Returns once connected (or raises with a clear message)."""

    @abstractmethod
    async def disconnect(self) -> None: ...

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def edit(
        self, chat_id: str, message_id: str, text: str, parse_mode: str = ""
    ) -> SendResult:
        return SendResult(
            ok=False, error=f"{self.platform.value} cannot edit messages", retryable=False
        )

    async def retire_buttons(
        self, prompt: OutboundMessage, message_id: str, outcome: str, by: str = ""
    ) -> None:
        """The buttons sent with `prompt` (now `message_id`) are answered: take them off the
        message, showing `outcome` (e.g. "✅ Approved once") and `by` (the platform user id of
        who answered, "" when nobody in the chat did) where the platform can. The engine calls
        it however the question was settled; raising only logs."""

    # True when the platform admits users by a rule of its own (Discord roles): the engine
    # then asks vouches_for after its allowlists, and does not warn that nobody can talk.
    vouches: bool = False

    def vouches_for(self, user_id: str) -> bool:
        """Whether the platform itself admits this user (e.g. by a Discord role), asked after
        the allowlists. Answers from memory: it is asked for every message."""
        return False

    async def typing(self, chat_id: str, thread_id: str = "") -> None:
        """Show "typing…" once; the delivery layer refreshes it while a turn runs."""
