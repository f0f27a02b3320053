"""The engine's outbound side: every reply goes to the outbox first, then to its platform.
A mixin of Engine (it uses the engine's store, sender, adapters and task spawner)."""

from __future__ import annotations

import asyncio
import logging

from hermes_gateway.core import wiring
from hermes_gateway.core.types import OutboundMessage, SessionSource
from hermes_gateway.storage.records import NewOutbox

log = logging.getLogger("hermes.engine")

TYPING_REFRESH = 4.0  # seconds; platforms drop the indicator after ~5 s
TYPING_DELAY = 0.3  # a reply ready this soon needs no indicator: save the API call


class Outbound:
    def reply_row(self, src: SessionSource, text: str, key: str, reply_to: str = "") -> NewOutbox:
        return NewOutbox(src.platform.value, src.chat_id, text, src.thread_id, reply_to, key)

    def queue_reply(self, src: SessionSource, text: str, key: str = "") -> None:
        """Write a reply to the outbox, then send it."""
        self.queue_row(self.reply_row(src, text, key))

    def queue_to(self, platform: str, chat_id: str, text: str, thread_id: str = "") -> None:
        self.queue_row(NewOutbox(platform, chat_id, text, thread_id))

    def queue_row(self, row: NewOutbox) -> None:
        self.send_later(self.store.outbox_add(row, self.clock()), row)

    async def flush_outbox(self, platform: str) -> None:
        """Send this platform's unsent replies, oldest first."""
        for row in self.store.outbox_pending(platform):
            await self.sender.deliver(row)

    def send_later(self, outbox_id: int, row: NewOutbox) -> None:
        self._spawn(self.sender.deliver(wiring.outbox_row(outbox_id, row)))

    def start_typing(self, src: SessionSource) -> asyncio.Task:
        """Show "typing…" beside the turn, refreshed until cancelled."""
        adapter = self.adapter(src.platform.value)

        async def keep_typing() -> None:
            if adapter is None or not adapter.capabilities.typing:
                return
            # A reply that is ready this soon needs no indicator: save the API call.
            await asyncio.sleep(TYPING_DELAY)
            while True:
                try:
                    await adapter.typing(src.chat_id, src.thread_id)
                except Exception as exc:
                    log.debug("typing on %s failed: %s", src.platform.value, exc)
                await asyncio.sleep(TYPING_REFRESH)

        return asyncio.create_task(keep_typing())

    async def _send_direct(self, src: SessionSource, text: str) -> None:
        message = OutboundMessage(src.chat_id, text, thread_id=src.thread_id)
        await wiring.send_direct(self, src.platform.value, message)
