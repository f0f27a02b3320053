"""Sends what the outbox holds: chunked to the platform's limit, retried on transient errors,
marked sent with the platform's message id. A send that fails for good is reported, never silent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import MessageSent, SendFailed
from hermes_gateway.core.types import OutboundMessage, SendResult
from hermes_gateway.delivery.chunking import split_message
from hermes_gateway.platforms.base import Adapter
from hermes_gateway.storage.base import Store
from hermes_gateway.storage.records import OutboxRow

MAX_ATTEMPTS = 4
MAX_RETRY_AFTER = 60.0


class Sender:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        adapters: Callable[[str], Adapter | None],
        clock: Callable[[], float] = time.time,
        backoff: float = 0.5,
    ) -> None:
        self.store = store
        self.bus = bus
        self.adapters = adapters
        self.clock = clock
        self.backoff = backoff

    async def deliver(self, row: OutboxRow) -> bool:
        adapter = self.adapters(row.platform)
        if adapter is None:  # not connected: stays pending, delivered when it is
            return False
        parts = split_message(row.text, adapter.capabilities.max_length)
        message_id = ""
        for index, part in enumerate(parts):
            message = OutboundMessage(
                chat_id=row.chat_id,
                text=part,
                thread_id=row.thread_id,
                reply_to=row.reply_to if index == 0 else "",
            )
            result = await self._send_with_retries(adapter, message)
            if not result.ok:
                self.store.outbox_mark_failed(row.id, result.error, final=True)
                self.bus.publish(SendFailed(row.platform, row.chat_id, result.error, row.id))
                return False
            message_id = message_id or result.message_id
        self.store.outbox_mark_sent(row.id, message_id, self.clock())
        self.bus.publish(MessageSent(row.platform, row.chat_id, message_id, len(row.text), row.id))
        return True

    async def _send_with_retries(self, adapter: Adapter, message: OutboundMessage):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                result = await adapter.send(message)
            except Exception as exc:  # an adapter bug must not lose the reply silently
                result = SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
            if result.ok or not result.retryable or attempt == MAX_ATTEMPTS:
                return result
            delay = (
                result.retry_after
                if result.retry_after is not None
                else (self.backoff * 2 ** (attempt - 1))
            )
            await asyncio.sleep(min(delay, MAX_RETRY_AFTER))
        return result
