"""The Telegram adapter: connect (long polling or webhook), send / edit / typing, buttons."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from typing import Any

from telegram import CallbackQuery, Message, ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import InvalidToken, TelegramError

from hermes_gateway.config.secrets import redact
from hermes_gateway.core.types import (
    ButtonPress,
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Platform,
    SendResult,
)
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.connection import StatusLatch
from hermes_gateway.platforms.extra import with_rates

from . import options_from_settings, protect_logs, rejection
from .convert import (
    BotIdentity,
    Converted,
    chat_ref,
    command_menu,
    convert_message,
    keyboard,
    result_from_error,
    thread_ref,
)
from .files import download, fits_caption, upload
from .polling import Poller, build_bot

log = logging.getLogger("hermes.telegram")

ANSWER_LIMIT = 200  # characters Telegram shows in a callback answer
BUTTON_FAILED = "That did not work. Please try again."


class TelegramAuthError(RuntimeError):
    """The token was rejected; the message says what to do and never contains the token."""


class TelegramAdapter(Adapter):
    platform = Platform.TELEGRAM
    capabilities = Capabilities(
        max_length=4096,
        length_unit="utf16",
        markup="telegram_html",
        can_edit=True,
        typing=True,
        threads=True,
        reactions=False,
        images=True,
        files=True,
        voice=True,
        buttons=True,
        per_chat_rate=1.0,
        global_rate=25.0,
    )

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.options = options_from_settings(settings)
        self.capabilities = with_rates(TelegramAdapter.capabilities, self.options)
        # Telegram allows 1-256 of A-Z a-z 0-9 _ -: exactly token_urlsafe's alphabet.
        self._secret = self.options.webhook_secret or secrets.token_urlsafe(32)
        protect_logs(self.options.token, self._secret)
        self._status = StatusLatch(context.report_status)
        self._cache = context.home.cache_dir / "telegram"
        self.identity: BotIdentity | None = None
        self.poller: Poller | None = None
        self.webhook = None  # a webhook.WebhookServer in webhook mode
        self.poll_task: asyncio.Task | None = None
        self._menu_task: asyncio.Task | None = None
        self._bot, self._poll_request = build_bot(self.options)

    def __repr__(self) -> str:
        return f"TelegramAdapter({self.options!r})"

    # -- lifecycle ---------------------------------------------------------------
    async def connect(self) -> None:
        if self.options.webhook_url:
            await self._connect_webhook()
        else:
            await self._connect_polling()

    async def _connect_polling(self) -> None:
        ready = True
        try:
            await self._setup()
        except InvalidToken as exc:
            await self._fail_auth(rejection(exc))
        except TelegramError as exc:  # offline at boot: the poll loop keeps trying
            ready = False
            self._status("connecting", f"cannot reach Telegram: {self._clean(exc)}")
        self.poller = Poller(
            self._bot,
            self._poll_request,
            self.handle_update,
            self._status,
            self.options,
            self._setup,
            ready,
        )
        self.poll_task = asyncio.create_task(self.poller.run(), name="telegram-poll")
        if ready:
            self._status("connected", "")

    async def _connect_webhook(self) -> None:
        from .webhook import WebhookServer  # aiohttp is only loaded in webhook mode

        self.webhook = WebhookServer(self.options, self._secret, self.handle_update)
        try:
            await self._setup()
        except InvalidToken as exc:
            await self._fail_auth(rejection(exc))
        except TelegramError as exc:
            await self._close()
            raise RuntimeError(f"cannot set the Telegram webhook: {self._clean(exc)}") from None
        except Exception:
            await self._close()
            raise
        self._status("connected", f"webhook on port {self.webhook.port}")

    async def _setup(self) -> None:
        """getMe, then the receiving side (webhook or none), then the command menu."""
        me = await self._bot.get_me()
        self.identity = BotIdentity(me.id, me.username or "")
        if self.webhook is not None:
            if not self.webhook.port:
                await self.webhook.start()
            await self.webhook.register(self._bot)
        else:
            await self._bot.delete_webhook()  # getUpdates is refused while a webhook is set
        # The menu is a nicety: set it beside the first poll, not in front of it.
        self._menu_task = asyncio.create_task(self._set_commands(), name="telegram-menu")

    async def _set_commands(self) -> None:
        commands = command_menu(self.context.command_menu or [])
        if not commands:
            return
        try:
            await self._bot.set_my_commands(commands)
        except TelegramError as exc:  # a menu is a nicety: never a reason not to connect
            log.warning("telegram: setMyCommands failed: %s", self._clean(exc))

    async def _fail_auth(self, message: str) -> None:
        self._status("failed", message)
        await self._close()
        raise TelegramAuthError(message)

    async def disconnect(self) -> None:
        if self._menu_task is not None:
            self._menu_task.cancel()
        if self.poller is not None:
            self.poller.stop()
        if self.poll_task is not None:
            self.poll_task.cancel()  # also drops the long poll in flight
            await asyncio.wait([self.poll_task], timeout=1.0)
            self.poll_task = None
        await self._close()
        self._status("stopped", "")

    async def _close(self) -> None:
        if self.webhook is not None:
            await self.webhook.stop()  # the webhook stays set: updates queue at Telegram
        for request in (self._bot.request, self._poll_request):
            try:
                await request.shutdown()
            except Exception as exc:
                log.debug("telegram: closing an HTTP client failed: %s", exc)

    # -- inbound -------------------------------------------------------------------
    async def handle_update(self, raw: dict) -> None:
        """One update: returns once it is stored (or known to be skippable); raises when it
        could not be stored, so that it is not acknowledged."""
        try:
            update = Update.de_json(raw, self._bot)
            converted = None
            # Edited messages are ignored: the original was already answered.
            if update.message is not None and self.identity is not None:
                converted = convert_message(
                    update.message, self.identity, self.options.require_mention
                )
        except Exception as exc:  # a malformed update must not stop the others
            log.warning("telegram: skipped malformed update %s: %s", raw.get("update_id"), exc)
            return
        if update.callback_query is not None:
            await self._on_button(update.callback_query)
            return
        if converted is None:
            return
        inbound = await self._with_media(converted)
        await self.context.deliver_inbound(inbound)

    async def _with_media(self, converted: Converted) -> InboundMessage:
        message, media = converted.message, converted.media
        if media is None or not message.addressed:  # an ignored group message needs no file
            return message
        stem = f"{message.source.chat_id}_{message.message_id}"
        got = await download(self._bot, media, self._cache, stem, self.options.max_file_bytes)
        if isinstance(got, str):
            text = f"{message.text}\n{got}" if message.text else got
            return dataclasses.replace(message, text=text)
        return dataclasses.replace(message, attachments=(got,))

    async def _on_button(self, query: CallbackQuery) -> None:
        message = query.message
        shown = message if isinstance(message, Message) else None
        user = query.from_user
        press = ButtonPress(
            platform=Platform.TELEGRAM,
            chat_id=str(message.chat.id) if message is not None else "",
            user_id=str(user.id),
            data=query.data or "",
            message_id=str(message.message_id) if message is not None else "",
            thread_id=str(shown.message_thread_id) if shown and shown.is_topic_message else "",
            user_name=user.username or user.first_name or "",
        )
        text = ""
        if self.context.deliver_action is not None:
            try:
                text = await self.context.deliver_action(press) or ""
            except Exception as exc:
                log.error("telegram: a button press failed: %s", exc)
                text = BUTTON_FAILED
        # Only the presser sees the answer; the keyboard stays until the engine retires it
        # (a refused press must not take the buttons away from the one who may answer).
        try:
            await query.answer(text[:ANSWER_LIMIT] or None)
        except TelegramError as exc:
            log.warning("telegram: answerCallbackQuery failed: %s", self._clean(exc))

    # -- outbound ------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        chat = chat_ref(message.chat_id)
        common: dict[str, Any] = {"message_thread_id": thread_ref(message.thread_id)}
        if message.reply_to.isdigit():
            common["reply_parameters"] = ReplyParameters(
                int(message.reply_to), allow_sending_without_reply=True
            )
        markup = keyboard(message.buttons)
        parse_mode = message.parse_mode or None
        first = ""
        try:
            text = message.text
            caption = text if text and message.attachments and fits_caption(text) else None
            if text and caption is None:
                sent = await self._bot.send_message(
                    chat, text, parse_mode=parse_mode, reply_markup=markup, **common
                )
                first, markup = str(sent.message_id), None
                common.pop("reply_parameters", None)
            for attachment in message.attachments:
                sent = await upload(
                    self._bot,
                    chat,
                    attachment,
                    caption,
                    parse_mode if caption else None,
                    reply_markup=markup,
                    **common,
                )
                first = first or str(sent.message_id)
                caption, markup = None, None
                common.pop("reply_parameters", None)
        except (TelegramError, OSError) as exc:
            result = self.result_from_error(exc)
            # Part of the message is out: resending would repeat it.
            return dataclasses.replace(result, retryable=False) if first else result
        return SendResult(ok=True, message_id=first)

    async def edit(
        self, chat_id: str, message_id: str, text: str, parse_mode: str = ""
    ) -> SendResult:
        if not message_id.isdigit():
            return SendResult(
                ok=False,
                error=f"no Telegram message {message_id!r}",
                retryable=False,
                kind="not_found",
            )
        try:
            await self._bot.edit_message_text(
                text,
                chat_id=chat_ref(chat_id),
                message_id=int(message_id),
                parse_mode=parse_mode or None,
            )
        except TelegramError as exc:
            return self.result_from_error(exc)
        return SendResult(ok=True, message_id=message_id)

    async def retire_buttons(
        self, prompt: OutboundMessage, message_id: str, outcome: str, by: str = ""
    ) -> None:
        # The text stays as it was (its parse mode may not survive an edit); the answer was
        # said in the chat or to the presser.
        if not message_id.isdigit():
            return
        try:
            await self._bot.edit_message_reply_markup(
                chat_ref(prompt.chat_id), int(message_id), reply_markup=None
            )
        except TelegramError as exc:
            log.info("telegram: removing the buttons failed: %s", self._clean(exc))

    async def typing(self, chat_id: str, thread_id: str = "") -> None:
        try:
            await self._bot.send_chat_action(
                chat_ref(chat_id), ChatAction.TYPING, message_thread_id=thread_ref(thread_id)
            )
        except TelegramError as exc:  # a missing indicator is not worth an error
            log.debug("telegram: sendChatAction failed: %s", self._clean(exc))

    def result_from_error(self, exc: BaseException) -> SendResult:
        return result_from_error(exc, self.options.token)

    def _clean(self, exc: BaseException) -> str:
        return redact(str(exc) or type(exc).__name__, self.options.token)
