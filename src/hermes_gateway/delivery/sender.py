"""Sends what the outbox holds: in order per chat, within the platform's rate limits, chunked to
its length limit, rendered in its markup (plain text when the platform rejects the formatting),
retried on transient errors and marked sent with the platform's id of the FIRST message.
A send that fails for good is reported, never silent.

Nothing here branches on a platform: everything comes from `adapter.capabilities`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import MessageSent, SendFailed
from hermes_gateway.core.types import Attachment, Capabilities, OutboundMessage, SendResult
from hermes_gateway.delivery.chunking import split_message, split_numbered
from hermes_gateway.delivery.formatting import length_function, plain_text, render
from hermes_gateway.delivery.media import extract_media
from hermes_gateway.delivery.ratelimit import RateLimiter
from hermes_gateway.delivery.streaming import StreamingReply
from hermes_gateway.platforms.base import Adapter
from hermes_gateway.storage.base import Store
from hermes_gateway.storage.records import OutboxRow

MAX_ATTEMPTS = 4
MAX_RETRY_AFTER = 60.0
STREAM_INTERVAL = 1.0  # seconds between edits of a streamed reply

Call = Callable[[str, str], Awaitable[SendResult]]  # (text, parse_mode) -> result


class Sender:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        adapters: Callable[[str], Adapter | None],
        clock: Callable[[], float] = time.time,
        backoff: float = 0.5,
        *,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.store = store
        self.bus = bus
        self.adapters = adapters
        self.clock = clock  # timestamps only; limits run on the monotonic clock
        self.backoff = backoff
        self.max_attempts = max_attempts
        self._limiters: dict[str, RateLimiter] = {}
        self._chats: dict[tuple[str, str], list] = {}  # key -> [lock, users]

    async def deliver(self, row: OutboxRow, buttons: tuple[tuple[str, str], ...] = ()) -> bool:
        """Send one outbox row. False when it was not sent: the platform is not connected
        (the row stays pending) or the send failed for good (the row is marked failed)."""
        adapter = self.adapters(row.platform)
        if adapter is None:  # not connected: stays pending, delivered when it is
            return False
        # No await before the lock: rows spawned in order take the chat's lock in order.
        async with self._chat_turn(row.platform, row.chat_id):
            # A row can be handed over twice (a reply and a reconnect flush): the store says
            # whether it still needs sending, and the chat lock makes that check race-free.
            if self.store.outbox_status(row.id) != "pending":
                return False
            return await self._deliver(adapter, row, buttons)

    def stream(
        self,
        platform: str,
        chat_id: str,
        *,
        thread_id: str = "",
        reply_to: str = "",
        existing_message_id: str = "",
        on_message_id: Callable[[str], None] | None = None,
        interval: float = STREAM_INTERVAL,
    ) -> StreamingReply | None:
        """A streamed reply into this chat, within the same rate limits as every send; None when
        the platform is not connected or cannot edit messages (then send the final normally)."""
        adapter = self.adapters(platform)
        if adapter is None or not adapter.capabilities.can_edit:
            return None
        caps = adapter.capabilities
        limiter = self._limiter(platform, caps)

        async def limited(request: Callable[[], Awaitable[SendResult]]) -> SendResult:
            await limiter.acquire(chat_id)
            result = await request()
            if result.retry_after is not None:
                limiter.block(chat_id, min(result.retry_after, MAX_RETRY_AFTER))
            return result

        async def send(message: OutboundMessage) -> SendResult:
            message = dataclasses.replace(message, chat_id=chat_id)
            return await limited(lambda: adapter.send(message))

        async def edit(message_id: str, text: str, parse_mode: str) -> SendResult:
            return await limited(lambda: adapter.edit(chat_id, message_id, text, parse_mode))

        return StreamingReply(
            send,
            edit,
            interval=interval,
            length=length_function(caps.length_unit),
            limit=caps.max_length,
            markup=caps.markup,
            existing_message_id=existing_message_id,
            on_message_id=on_message_id,
            chat_id=chat_id,
            thread_id=thread_id,
            reply_to=reply_to,
        )

    # -- one row ----------------------------------------------------------------------------
    async def _deliver(
        self, adapter: Adapter, row: OutboxRow, buttons: tuple[tuple[str, str], ...]
    ) -> bool:
        caps = adapter.capabilities
        limiter = self._limiter(row.platform, caps)
        text, attachments = extract_media(row.text, caps)
        parts = [] if attachments and not text.strip() else _chunks(text, caps)
        edit_id = row.edit_message_id if caps.can_edit else ""
        first_id = ""
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            message = OutboundMessage(
                chat_id=row.chat_id,
                text=part,
                thread_id=row.thread_id,
                reply_to=row.reply_to if index == 0 else "",
                buttons=buttons if last else (),
            )
            if index == 0 and edit_id:
                result = await self._edit_or_send(adapter, limiter, message, edit_id, caps.markup)
            else:
                result = await self._send(adapter, limiter, message, caps.markup)
            if not result.ok:
                return self._failed(row, result)
            first_id = first_id or result.message_id
        for index, attachment in enumerate(attachments):
            last = index == len(attachments) - 1
            result = await self._send_attachment(
                adapter,
                limiter,
                row,
                attachment,
                first=not parts and index == 0,
                buttons=buttons if last and not parts else (),
            )
            if not result.ok:
                return self._failed(row, result)
            first_id = first_id or result.message_id
        self.store.outbox_mark_sent(row.id, first_id, self.clock())
        self.bus.publish(MessageSent(row.platform, row.chat_id, first_id, len(row.text), row.id))
        return True

    def _failed(self, row: OutboxRow, result: SendResult) -> bool:
        self.store.outbox_mark_failed(row.id, result.error, final=True)
        self.bus.publish(SendFailed(row.platform, row.chat_id, result.error, row.id))
        return False

    async def _send(
        self, adapter: Adapter, limiter: RateLimiter, message: OutboundMessage, markup: str
    ) -> SendResult:
        async def call(text: str, parse_mode: str) -> SendResult:
            return await adapter.send(
                dataclasses.replace(message, text=text, parse_mode=parse_mode)
            )

        return await self._attempts(limiter, message.chat_id, message.text, markup, call)

    async def _edit_or_send(
        self,
        adapter: Adapter,
        limiter: RateLimiter,
        message: OutboundMessage,
        message_id: str,
        markup: str,
    ) -> SendResult:
        """The first chunk of a streamed reply replaces the streamed message."""

        async def call(text: str, parse_mode: str) -> SendResult:
            result = await adapter.edit(message.chat_id, message_id, text, parse_mode)
            if result.kind == "not_modified":  # it already says exactly this
                return SendResult(ok=True, message_id=message_id)
            if result.ok and not result.message_id:
                return dataclasses.replace(result, message_id=message_id)
            return result

        result = await self._attempts(limiter, message.chat_id, message.text, markup, call)
        if result.kind == "not_found":  # the streamed message is gone: the reply still arrives
            return await self._send(adapter, limiter, message, markup)
        return result

    async def _send_attachment(
        self,
        adapter: Adapter,
        limiter: RateLimiter,
        row: OutboxRow,
        attachment: Attachment,
        first: bool,
        buttons: tuple[tuple[str, str], ...],
    ) -> SendResult:
        message = OutboundMessage(
            chat_id=row.chat_id,
            text="",
            thread_id=row.thread_id,
            reply_to=row.reply_to if first else "",
            attachments=(attachment,),
            buttons=buttons,
        )

        async def call(text: str, parse_mode: str) -> SendResult:
            return await adapter.send(message)

        return await self._attempts(limiter, row.chat_id, "", "plain", call)

    async def _attempts(
        self, limiter: RateLimiter, chat_id: str, markdown: str, markup: str, call: Call
    ) -> SendResult:
        """Send one chunk: rate-limited, plain on a format error, retried a bounded number of
        times. A failure that may already have delivered (not retryable) is never retried."""
        text, parse_mode = render(markdown, markup)
        attempt = 0
        while True:
            await limiter.acquire(chat_id)
            result = await _call(call, text, parse_mode)
            if result.ok:
                return result
            if result.kind == "format" and parse_mode:  # once, and not counted as an attempt
                text, parse_mode = plain_text(markdown), ""
                continue
            attempt += 1
            if attempt >= self.max_attempts:
                return result
            if result.retry_after is not None:
                # Only this chat waits: other chats' sends keep flowing meanwhile.
                limiter.block(chat_id, min(result.retry_after, MAX_RETRY_AFTER))
            elif not result.retryable:
                return result
            else:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    # -- per-platform and per-chat state ------------------------------------------------------
    def _limiter(self, platform: str, caps: Capabilities) -> RateLimiter:
        limiter = self._limiters.get(platform)
        if limiter is None:
            limiter = RateLimiter(caps.per_chat_rate, caps.global_rate)
            self._limiters[platform] = limiter
        return limiter

    @contextlib.asynccontextmanager
    async def _chat_turn(self, platform: str, chat_id: str) -> AsyncIterator[None]:
        key = (platform, chat_id)
        entry = self._chats.get(key)
        if entry is None:
            entry = self._chats[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:  # asyncio.Lock wakes waiters first come, first served
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:  # nobody else queued: forget the chat (memory stays bounded)
                del self._chats[key]


def _chunks(text: str, caps: Capabilities) -> list[str]:
    split = split_numbered if caps.numbered_chunks else split_message
    return split(text, caps.max_length, length_function(caps.length_unit))


async def _call(call: Call, text: str, parse_mode: str) -> SendResult:
    try:
        return await call(text, parse_mode)
    except Exception as exc:  # an adapter bug must not lose the reply silently
        timeout = isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__
        # A timeout may have delivered: reported, never retried.
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=not timeout)
