"""The local chat: the TUI's console pane, `hermes gateway` on a terminal, and tests.

It goes through exactly the same path as any platform: inbox, authorization (the local operator
is always allowed), the session lane, the outbox and delivery."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from hermes_gateway.core.events import ConsoleReply
from hermes_gateway.core.types import (
    Capabilities,
    ChatType,
    InboundMessage,
    OutboundMessage,
    Platform,
    SendResult,
    SessionSource,
)
from hermes_gateway.platforms.base import Adapter

CONSOLE_CHAT = "local"
UNHEARD_LIMIT = 200
CONSOLE_USER = "operator"


class ConsoleAdapter(Adapter):
    platform = Platform.CONSOLE
    capabilities = Capabilities(max_length=65536, markup="markdown")

    def __init__(self, settings, context) -> None:
        super().__init__(settings, context)
        self._outputs: list[Callable[[OutboundMessage], None]] = []
        self._unheard: deque[OutboundMessage] = deque(maxlen=UNHEARD_LIMIT)
        self._ids = itertools.count(1)
        self._boot = time.time_ns()

    def add_output(self, callback: Callable[[OutboundMessage], None]) -> Callable[[], None]:
        """Called with every message the agent sends to the console (and, for the first
        output, with what was sent before anyone listened). Returns a remover."""
        self._outputs.append(callback)
        while self._unheard:
            callback(self._unheard.popleft())
        return lambda: self._outputs.remove(callback)

    async def connect(self) -> None:
        self.context.report_status("connected", "local")

    async def disconnect(self) -> None:
        self.context.report_status("stopped", "")

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.context.publish is not None:
            self.context.publish(ConsoleReply(message.chat_id, message.text))
        if not self._outputs:  # e.g. replies recovered at start-up, before the UI attaches
            self._unheard.append(message)
        for output in list(self._outputs):
            output(message)
        return SendResult(ok=True, message_id=f"c{next(self._ids)}")

    async def inject(
        self, text: str, user_id: str = CONSOLE_USER, chat_id: str = CONSOLE_CHAT
    ) -> InboundMessage:
        """Type a message into the console as the local operator."""
        message = InboundMessage(
            source=SessionSource(
                platform=Platform.CONSOLE,
                chat_id=chat_id,
                chat_type=ChatType.DM,
                user_id=user_id,
                user_name=user_id,
            ),
            # Unique across restarts so the inbox never mistakes a new line for a replay.
            message_id=f"{self._boot}-{next(self._ids)}",
            text=text,
        )
        await self.context.deliver_inbound(message)
        return message


async def pump_lines(adapter: ConsoleAdapter, stream=None) -> None:
    """Feed lines from a stream (stdin by default) into the console until EOF.

    A daemon thread reads, so a blocked read never holds up shutdown."""
    stream = stream or sys.stdin
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in iter(stream.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except (RuntimeError, ValueError):  # the loop or the stream closed at shutdown
            return

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        if line.strip():
            await adapter.inject(line.rstrip("\n"))
