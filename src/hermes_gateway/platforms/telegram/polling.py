"""The Bot we build, and the long-poll loop with its connection health.

An update is acknowledged by asking for the next offset, so the loop advances the offset only
after the handler returned (the message is durable in the inbox). Health: a getUpdates that
outlives its own timeout by `stall_grace` is a dead connection; the HTTP client is rebuilt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from hermes_gateway.config.secrets import redact
from hermes_gateway.platforms.connection import Backoff, StatusLatch, StoreRetries

from . import ALLOWED_UPDATES, TelegramOptions, rejection
from .convert import retry_seconds

log = logging.getLogger("hermes.telegram")

CONFLICT = (
    "another bot instance is polling this token (409): stop the other process, "
    "or this gateway will keep retrying"
)
WEBHOOK_CONFLICT = (
    "a webhook is set for this token (409): remove webhook_url from the other gateway "
    "or stop it; this gateway will keep retrying"
)
STALLED = "long poll stalled; reconnecting"
# An update whose handler keeps failing (the inbox is unwritable) is skipped after this many
# tries, so that one poison update cannot hold up a chat forever.
MAX_HANDLER_FAILURES = 5


class HermesBot(Bot):
    """A Bot that hands back raw update dicts, so one malformed update can be skipped alone
    (Bot.get_updates parses the whole batch at once and fails it as a whole)."""

    async def get_raw_updates(self, offset: int | None, timeout: float) -> list[Any]:
        data = {"offset": offset, "timeout": int(timeout), "allowed_updates": list(ALLOWED_UPDATES)}
        # _post does not add the long-poll time to the read timeout (Bot.get_updates would):
        # without this, every idle poll longer than the base read timeout ends in TimedOut.
        read_timeout = self._request[0].read_timeout + timeout
        result = await self._post("getUpdates", data, read_timeout=read_timeout)
        return result if isinstance(result, list) else []


def build_bot(options: TelegramOptions) -> tuple[HermesBot, HTTPXRequest]:
    """The Bot and its dedicated getUpdates request (rebuilt when a long poll stalls)."""
    poll_request = HTTPXRequest(
        connection_pool_size=1,
        # get_raw_updates adds the long-poll timeout to this; our own stall check fires first.
        read_timeout=options.stall_grace + 5.0,
        connect_timeout=10.0,
    )
    bot = HermesBot(
        options.token,
        base_url=options.base_url,
        base_file_url=options.base_file_url,
        request=HTTPXRequest(
            connection_pool_size=16, read_timeout=20.0, write_timeout=30.0, pool_timeout=5.0
        ),
        get_updates_request=poll_request,
    )
    return bot, poll_request


class Poller:
    def __init__(
        self,
        bot: HermesBot,
        poll_request: HTTPXRequest,
        handle: Callable[[dict], Awaitable[None]],
        status: StatusLatch,
        options: TelegramOptions,
        setup: Callable[[], Awaitable[None]],
        ready: bool,
    ) -> None:
        self._bot = bot
        self._request = poll_request
        self._handle = handle
        self._status = status
        self._options = options
        self._setup = setup  # getMe + deleteWebhook + commands, until it has succeeded once
        self._ready = ready
        self._stopping = asyncio.Event()
        self._stored = StoreRetries(log, "telegram", "update", MAX_HANDLER_FAILURES)
        self.offset: int | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must show up as a failed platform, not silence
            log.exception("telegram: the poll loop crashed")
            reason = redact(str(exc) or type(exc).__name__, self._options.token)
            self._status("failed", f"the Telegram poll loop stopped: {reason}")

    async def _loop(self) -> None:
        backoff = Backoff(jitter=0.0)  # one gateway per token: no herd to spread
        healthy = self._ready  # after any trouble, the next poll is short to confirm recovery
        while not self._stopping.is_set():
            timeout = self._options.long_poll_timeout if healthy else 0.0
            try:
                if not self._ready:
                    await self._setup()
                    self._ready = True
                updates = await asyncio.wait_for(
                    self._bot.get_raw_updates(self.offset, timeout),
                    timeout + self._options.stall_grace,
                )
            except TimeoutError:
                log.warning("telegram: %s", STALLED)
                self._status("connecting", STALLED)
                healthy = False
                await self._rebuild()
                continue
            except InvalidToken as exc:
                self._status("failed", rejection(exc))
                return  # a bad token never fixes itself: no spinning
            except Conflict as exc:
                webhook = "webhook" in exc.message.lower()
                self._status("failed", WEBHOOK_CONFLICT if webhook else CONFLICT)
                healthy = False
                await self._sleep(backoff.next())
                continue
            except RetryAfter as exc:
                delay = retry_seconds(exc)
                self._status("connecting", f"Telegram asked us to wait {delay:g} s")
                healthy = False
                await self._sleep(delay)
                continue
            except (NetworkError, TelegramError) as exc:
                reason = redact(str(exc) or type(exc).__name__, self._options.token)
                self._status("connecting", f"cannot reach Telegram: {reason}")
                healthy = False
                await self._sleep(backoff.next())
                continue
            self._status("connected", "")
            healthy = True
            backoff.reset()
            if not await self._dispatch(updates):
                await self._sleep(backoff.next())

    async def _dispatch(self, updates: list[Any]) -> bool:
        """Handle each update in order, acknowledging as we go. False: retry from here later."""
        for raw in updates:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                log.warning("telegram: skipped an update without an update_id")
                continue
            if self.offset is not None and update_id < self.offset:
                continue  # already handled (a server that re-sent it)
            if not await self._stored.store(update_id, lambda raw=raw: self._handle(raw)):
                return False
            self.offset = update_id + 1
        return True

    async def _rebuild(self) -> None:
        """A fresh HTTP client for getUpdates: the stalled connection is dropped with the old one."""
        try:
            await self._request.shutdown()
        except Exception as exc:  # closing a dead connection may itself fail
            log.debug("telegram: closing the stalled client failed: %s", exc)
        await self._request.initialize()

    async def _sleep(self, seconds: float) -> None:
        """A backoff that ends at once when the adapter stops."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass
