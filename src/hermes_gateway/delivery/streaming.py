"""A reply that appears while the model writes it: one message, sent once the reply has taken
longer than `interval` (a quick reply arrives as one message, with no partial before it), then
edited in place at most once per `interval`, by a single background task that always shows
the latest text (intermediate states are skipped, never queued).

The stream ends in exactly one of two ways: `finish(final)` turns the streamed message into the
final reply with one edit (extra chunks as new messages), or `abort()` leaves the partial as it is.
Either way the worker is stopped first and its in-flight request completes, so a message the
platform already created is always known: never a partial plus a duplicate final."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from hermes_gateway.core.types import OutboundMessage, SendResult
from hermes_gateway.delivery.chunking import split_message
from hermes_gateway.delivery.formatting import plain_text, render
from hermes_gateway.delivery.media import strip_media_lines

log = logging.getLogger("hermes.streaming")

CURSOR = "▌"
CURSOR_ROOM = 2  # UTF-16 units kept free for the cursor
FINAL_ATTEMPTS = 3
FINAL_BACKOFF = 0.5
MAX_RETRY_AFTER = 60.0


class SendFn(Protocol):
    def __call__(self, message: OutboundMessage) -> Awaitable[SendResult]: ...


class EditFn(Protocol):
    def __call__(self, message_id: str, text: str, parse_mode: str) -> Awaitable[SendResult]: ...


class StreamingReply:
    def __init__(
        self,
        send: SendFn,
        edit: EditFn,
        *,
        interval: float,
        length: Callable[[str], int],
        limit: int,
        markup: str,
        existing_message_id: str = "",
        on_message_id: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        chat_id: str = "",
        thread_id: str = "",
        reply_to: str = "",
    ) -> None:
        self._send, self._edit = send, edit
        self.interval = interval
        self.length, self.limit, self.markup = length, limit, markup
        self.clock = clock
        self.chat_id, self.thread_id, self.reply_to = chat_id, thread_id, reply_to
        self._on_message_id = on_message_id
        self._message_id = existing_message_id
        self._text = ""
        self._shown = ""  # what the message shows now (as sent, rendered)
        self._plain = False  # the platform rejected our formatting once: plain from then on
        self._dead = False  # the message cannot be updated any more (deleted, forbidden, …)
        self._first_at: float | None = None
        self._last_push = float("-inf")
        self._not_before = float("-inf")  # a retry_after from the platform
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._nudge = asyncio.Event()  # cuts a sleep short: stopped, or words for a first message
        self._worker: asyncio.Task | None = None

    @property
    def message_id(self) -> str:
        """The streamed message, once it exists ("" before)."""
        return self._message_id

    @property
    def text(self) -> str:
        return self._text

    def feed(self, delta: str) -> None:
        """Add streamed text. Cheap and synchronous: the worker does the sending."""
        if self._stop.is_set() or not delta:
            return
        self._text += delta
        if self._first_at is None:
            self._first_at = self.clock()
        self._wake.set()
        if not self._message_id:
            self._nudge.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="stream-reply")

    async def finish(self, final_text: str) -> str:
        """Make the streamed message the final reply. Returns its id, or "" when nothing was
        streamed (or the message can no longer be edited): then the caller sends normally."""
        await self._halt()
        if not self._message_id:
            return ""
        chunks = split_message(final_text, self.limit, self.length)
        message_id = self._message_id
        result = await self._final(chunks[0], lambda text, mode: self._edit(message_id, text, mode))
        if not result.ok and result.kind != "not_modified":
            log.warning("final edit of a streamed reply failed: %s", result.error)
            return ""
        for chunk in chunks[1:]:
            result = await self._final(chunk, self._send_text)
            if not result.ok:
                log.warning("a continuation of a streamed reply failed: %s", result.error)
                break
        return message_id

    async def abort(self) -> None:
        """Stop streaming; the message keeps what it shows (an interrupted turn)."""
        await self._halt()

    # -- the worker ---------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while not self._dead:
                await self._wake.wait()
                if self._stop.is_set():
                    return
                delay = self._delay()
                if delay > 0:
                    # Sleep until due, or until stopped, or until the first message gets its words.
                    self._nudge.clear()
                    try:
                        await asyncio.wait_for(self._nudge.wait(), delay)
                    except TimeoutError:
                        pass
                    continue
                self._wake.clear()
                await self._push()
        except Exception:  # streaming is a nicety: never let it break the turn
            log.exception("streaming a reply failed")
            self._dead = True

    def _delay(self) -> float:
        now = self.clock()
        due = self._not_before
        if not self._message_id and self._first_at is not None:
            # Only a reply that takes a while is streamed: one that is done within `interval`
            # arrives as a single message, with no partial before it.
            due = max(due, self._first_at + self.interval)
        else:
            due = max(due, self._last_push + self.interval)
        return due - now

    async def _push(self) -> None:
        text, mode = self._display()
        if text == self._shown or not text.removesuffix(CURSOR).strip():
            return
        self._last_push = self.clock()
        if not self._message_id:
            result = await _call(self._send, self._message(text, mode))
            if result.ok and not result.message_id:  # nothing to edit: never send a second one
                self._dead = True
                return
            if result.ok:
                self._message_id = result.message_id
                self._shown = text
                self._announce()
        else:
            result = await _call(self._edit, self._message_id, text, mode)
            if result.ok or result.kind == "not_modified":
                self._shown = text
        if not result.ok:
            self._failed(result)

    def _failed(self, result: SendResult) -> None:
        if result.kind == "not_modified":
            return
        if result.kind == "format" and not self._plain:
            self._plain = True  # show it plain from now on; retry at once
            self._last_push = float("-inf")
        elif result.retry_after is not None:
            self._not_before = self.clock() + min(result.retry_after, MAX_RETRY_AFTER)
        elif not result.retryable or result.kind:
            log.info("streaming stopped: %s", result.error)
            self._dead = True
            return
        self._wake.set()

    def _announce(self) -> None:
        if self._on_message_id is None:
            return
        try:
            self._on_message_id(self._message_id)
        except Exception:
            log.exception("recording a streamed message id failed")

    def _display(self) -> tuple[str, str]:
        text = strip_media_lines(self._text).rstrip()
        budget = self.limit - CURSOR_ROOM
        if len(text) > budget or self.length(text) > budget:
            # The first chunk depends only on the first `budget` characters: cut before splitting.
            text = split_message(text[: budget + 1], budget, self.length)[0]
        if self._plain:
            return plain_text(text) + CURSOR, ""
        rendered, mode = render(text, self.markup)
        return rendered + CURSOR, mode

    def _message(self, text: str, mode: str) -> OutboundMessage:
        return OutboundMessage(
            chat_id=self.chat_id,
            text=text,
            thread_id=self.thread_id,
            reply_to=self.reply_to,
            parse_mode=mode,
        )

    async def _send_text(self, text: str, mode: str) -> SendResult:
        return await _call(self._send, self._message(text, mode))

    async def _halt(self) -> None:
        self._stop.set()
        self._wake.set()
        self._nudge.set()
        if self._worker is not None:
            await asyncio.wait({self._worker})  # its in-flight request completes, never cut

    async def _final(
        self, chunk: str, call: Callable[[str, str], Awaitable[SendResult]]
    ) -> SendResult:
        """One final text: rendered, plain on a format error, retried a bounded number of times."""
        text, mode = (plain_text(chunk), "") if self._plain else render(chunk, self.markup)
        result = SendResult(ok=False, error="not sent")
        for attempt in range(1, FINAL_ATTEMPTS + 1):
            result = await _call(call, text, mode)
            if result.ok or result.kind == "not_modified" or attempt == FINAL_ATTEMPTS:
                return result
            if result.kind == "format" and mode:
                text, mode = plain_text(chunk), ""
            elif result.retry_after is not None:
                await asyncio.sleep(min(result.retry_after, MAX_RETRY_AFTER))
            elif not result.retryable or result.kind:
                return result
            else:
                await asyncio.sleep(FINAL_BACKOFF * attempt)
        return result


async def _call(fn: Callable[..., Awaitable[SendResult]], *args) -> SendResult:
    try:
        return await fn(*args)
    except Exception as exc:  # a broken transport is a failed request, not a crashed stream
        # A timeout may have delivered: never retried.
        return SendResult(
            ok=False, error=f"{type(exc).__name__}: {exc}", retryable=not _timeout(exc)
        )


def _timeout(exc: Exception) -> bool:
    return isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__
