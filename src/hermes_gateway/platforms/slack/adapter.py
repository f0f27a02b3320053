"""The Slack adapter: Socket Mode in, the Web API out; replies in threads, streaming by
chat.update, approval prompts as Block Kit buttons, files both ways (HERMES_HOME/cache/slack)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from hermes_gateway.config.secrets import redact
from hermes_gateway.core.types import (
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Platform,
    SendResult,
)
from hermes_gateway.delivery.formatting import escape_html
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.downloads import with_downloads
from hermes_gateway.platforms.extra import with_rates
from hermes_gateway.platforms.processing_reaction import ProcessingReaction

from . import AUTH_ERRORS, options_from_settings, rejected, sdk_logger
from .blocks import Press, message_blocks, parse_block_actions, retired_blocks
from .convert import (
    SLASH_PREFIX,
    BotIdentity,
    MalformedEvent,
    SlackMessage,
    parse_message_event,
    result_from_error,
    slash_to_inbound,
    to_inbound,
)
from .files import DownloadError, FileDownloader, shared_ts, upload_args
from .names import Names
from .socket import SlackAuthError, SocketLink

log = logging.getLogger("hermes.slack")

PROCESSING_EMOJI = "eyes"
FOLLOWED_THREADS = 5000  # threads the bot has spoken in, answered there without a new mention
COMMANDS_SEEN = 256  # typed commands lately, which get no processing reaction
WITH_FILES_SEEN = 256  # messages with files lately handed over (their downloads are done)
HTTP_TIMEOUT = 30
BUTTON_FAILED = "That did not work. Please try again."


class SlackAdapter(Adapter):
    platform = Platform.SLACK
    capabilities = Capabilities(
        max_length=4000,  # Slack truncates at 40,000 but asks for at most 4,000
        length_unit="chars",
        markup="slack_mrkdwn",
        can_edit=True,
        typing=False,  # a classic bot has no typing indicator in the Web API
        threads=True,
        reactions=True,
        images=True,
        files=True,
        voice=False,
        buttons=True,
        per_chat_rate=1.0,
        global_rate=5.0,
    )

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.options = options_from_settings(settings)
        self.capabilities = with_rates(SlackAdapter.capabilities, self.options)
        self.identity: BotIdentity | None = None
        self.link: SocketLink | None = None
        self._http: aiohttp.ClientSession | None = None
        self._web: AsyncWebClient | None = None
        self._names: Names | None = None
        self._followed: OrderedDict[str, None] = OrderedDict()
        self._commands_seen: OrderedDict[str, None] = OrderedDict()
        self._with_files_seen: OrderedDict[str, None] = OrderedDict()
        self._cache = context.home.cache_dir / "slack"
        self._downloader: FileDownloader | None = None
        self._tasks: set[asyncio.Task] = set()
        self._commands = {name.lstrip("/").lower() for name, _ in context.command_menu or []}
        self._reaction = ProcessingReaction(
            Platform.SLACK.value, self._add_processing, self._remove_processing
        )

    def __repr__(self) -> str:
        return f"SlackAdapter({self.options!r})"

    # -- lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self._http = aiohttp.ClientSession()
        self._web = AsyncWebClient(
            token=self.options.bot_token,
            base_url=self.options.api_url,
            session=self._http,
            timeout=HTTP_TIMEOUT,
            logger=sdk_logger(self.options.bot_token, self.options.app_token),
        )
        self._names = Names(self._web)
        self._downloader = FileDownloader(
            self._http, self.options.bot_token, self.options.api_url, self._file_info
        )
        self.link = SocketLink(
            self.options, self._web, self.handle_envelope, self._report, self._ensure_identity
        )
        try:
            await self.link.start()
        except SlackAuthError as exc:
            self._report("failed", str(exc))
            await self._close()
            raise
        if self.options.processing_reaction:
            self._reaction.attach(self.context.listen)

    async def _ensure_identity(self) -> None:
        if self.identity is None:
            await self._identify()

    async def _identify(self) -> None:
        """auth.test: who the bot is (its user id is what a mention names)."""
        assert self._web is not None
        try:
            me = await self._web.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if error in AUTH_ERRORS:
                raise SlackAuthError(rejected("SLACK_BOT_TOKEN", error)) from None
            raise ConnectionError(f"auth.test answered {error}") from None
        self.identity = BotIdentity(
            str(me.get("user_id") or ""), str(me.get("bot_id") or ""), str(me.get("user") or "")
        )

    async def disconnect(self) -> None:
        self._reaction.detach()
        for task in list(self._tasks):
            task.cancel()
        await self._close()
        self._report("stopped", "")

    async def _close(self) -> None:
        if self.link is not None:
            await self.link.stop()
        if self._http is not None:
            await self._http.close()

    def _report(self, state: str, detail: str) -> None:
        self.context.report_status(state, detail)

    # -- inbound -------------------------------------------------------------------------------
    async def handle_envelope(self, envelope: dict) -> None:
        """One Socket Mode envelope: returns once its message is stored (or known to be
        skippable); raises when it could not be stored, so it is not acknowledged."""
        kind, payload = envelope.get("type"), envelope.get("payload")
        await self._ensure_identity()  # connected means it answered: this is a no-op
        try:
            if kind == "events_api":
                await self._on_event(payload)
            elif kind == "interactive":
                press = parse_block_actions(payload)
                if press is not None:
                    await self._on_press(press)
            elif kind == "slash_commands":
                await self.context.deliver_inbound(slash_to_inbound(payload, self._commands))
        except MalformedEvent as exc:
            log.warning(
                "slack: skipped malformed %s envelope %s: %s",
                kind,
                envelope.get("envelope_id"),
                exc,
            )

    async def _on_event(self, payload: Any) -> None:
        assert self.identity is not None and self._names is not None
        if not isinstance(payload, dict) or payload.get("type") != "event_callback":
            raise MalformedEvent("the payload is not an event_callback")
        message = parse_message_event(payload.get("event"), self.identity)
        if message is None:
            return
        inbound = to_inbound(
            message,
            self.identity,
            require_mention=self.options.require_mention,
            reply_in_thread=self.options.reply_in_thread,
            followed=self._followed,
        )
        if inbound.addressed:  # names only for what is answered: chatter costs no lookups
            source = dataclasses.replace(
                inbound.source,
                user_name=await self._names.user(message.user),
                chat_name="" if message.is_dm else await self._names.channel(message.channel),
            )
            inbound = dataclasses.replace(inbound, source=source)
            if source.thread_id:
                self._follow(source.thread_id)
            if inbound.text.startswith("/"):  # answered at once: no 👀 waiting for a turn
                _remember(self._commands_seen, inbound.message_id, COMMANDS_SEEN)
        if not message.files:
            await self.context.deliver_inbound(inbound)
            return
        # A mention comes as `message` and `app_mention`, and an envelope acked late (a big
        # download) comes again: fetch its files once.
        key = f"{message.channel}/{message.ts}"
        if key in self._with_files_seen:
            return
        await self.context.deliver_inbound(await self._with_files(inbound, message))
        if inbound.addressed:
            _remember(self._with_files_seen, key, WITH_FILES_SEEN)

    async def _with_files(self, inbound: InboundMessage, message: SlackMessage) -> InboundMessage:
        downloader, limit = self._downloader, self.options.max_file_bytes
        assert downloader is not None
        if not inbound.addressed:
            return inbound  # no downloads, nor files.info, for what is not answered
        files = [await downloader.complete(ref) for ref in message.files]
        kind = files[0].kind or inbound.kind
        return await with_downloads(
            dataclasses.replace(inbound, kind=kind),
            files,
            cache_dir=self._cache,
            max_bytes=limit,
            fetch=lambda ref: downloader.fetch(ref, limit),
            errors=(DownloadError,),
        )

    async def _file_info(self, file_id: str) -> dict:
        assert self._web is not None
        response = await self._web.files_info(file=file_id)
        info = response.get("file")
        if not isinstance(info, dict) or info.get("id") != file_id:
            raise ValueError("files.info gave no file object")
        return info

    async def _on_press(self, press: Press) -> None:
        if self.context.deliver_action is None:
            return
        try:
            answer = await self.context.deliver_action(press.press) or ""
        except Exception as exc:  # the person is told; the press is not worth a redelivery
            log.error("slack: a button press failed: %s", self._clean(exc))
            answer = BUTTON_FAILED
        # The answer goes beside the next envelope, not in front of its acknowledgement.
        self._spawn(self._after_press(press, answer))

    async def _after_press(self, press: Press, answer: str) -> None:
        """Only the one who pressed is told; the prompt loses its buttons when the engine
        retires them (a refused press leaves them for the one who may answer)."""
        assert self._web is not None
        try:
            await self._web.chat_postEphemeral(
                channel=press.channel,
                user=press.press.user_id,
                text=escape_html(answer or BUTTON_FAILED),
                thread_ts=press.press.thread_id or None,
            )
        except Exception as exc:
            log.warning("slack: answering a button press failed: %s", self._clean(exc))

    async def retire_buttons(
        self, prompt: OutboundMessage, message_id: str, outcome: str, by: str = ""
    ) -> None:
        if self._web is None:
            return
        mrkdwn = prompt.parse_mode == "mrkdwn"
        text = prompt.text if mrkdwn else escape_html(prompt.text)
        try:
            await self._web.chat_update(
                channel=prompt.chat_id,
                ts=message_id,
                text=f"{text}\n{escape_html(outcome)}".strip(),
                blocks=retired_blocks(prompt.text, mrkdwn, outcome, by),
            )
        except Exception as exc:  # a press on what stays is refused as expired
            log.info("slack: removing the buttons failed: %s", self._clean(exc))

    # -- outbound ------------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        assert self._web is not None
        mrkdwn = message.parse_mode == "mrkdwn"
        text = message.text if mrkdwn else escape_html(message.text)
        if message.attachments:
            uploaded = await self._upload(message, "" if message.buttons else text)
            if not uploaded.ok or not message.buttons:
                return uploaded
            # Buttons cannot ride on an upload: the text and its buttons follow as a message.
            message = dataclasses.replace(message, attachments=())
        args: dict[str, Any] = {"channel": message.chat_id, "text": text}
        if message.thread_id:
            args["thread_ts"] = message.thread_id
        if message.buttons:
            args["blocks"] = message_blocks(message.text, mrkdwn, message.buttons)
        if not mrkdwn:
            args["mrkdwn"] = False
        try:
            response = await self._web.chat_postMessage(**args)
        except Exception as exc:
            return self.result_from_error(exc)
        if message.thread_id:
            self._follow(message.thread_id)
        return SendResult(ok=True, message_id=str(response.get("ts") or ""))

    async def _upload(self, message: OutboundMessage, comment: str) -> SendResult:
        """files.getUploadURLExternal, the bytes, files.completeUploadExternal (slack-sdk's
        files_upload_v2): one message with every file and `comment` as its text."""
        assert self._web is not None
        try:
            args = await upload_args(
                message.attachments, message.chat_id, message.thread_id, comment
            )
        except OSError as exc:
            error = f"cannot read the attachment: {exc.strerror or type(exc).__name__}"
            return SendResult(ok=False, error=error, retryable=False)
        try:
            completion = await self._web.files_upload_v2(**args)
        except SlackRequestError as exc:  # the upload URL refused the bytes
            return SendResult(ok=False, error=self._clean(exc))
        except Exception as exc:
            return self.result_from_error(exc)
        if message.thread_id:
            self._follow(message.thread_id)
        return SendResult(ok=True, message_id=shared_ts(completion, message.chat_id))

    async def edit(
        self, chat_id: str, message_id: str, text: str, parse_mode: str = ""
    ) -> SendResult:
        assert self._web is not None
        shown = text if parse_mode == "mrkdwn" else escape_html(text)
        try:
            await self._web.chat_update(channel=chat_id, ts=message_id, text=shown)
        except Exception as exc:
            return self.result_from_error(exc)
        return SendResult(ok=True, message_id=message_id)

    async def _add_processing(self, chat_id: str, message_id: str) -> None:
        assert self._web is not None
        if message_id.startswith(SLASH_PREFIX) or message_id in self._commands_seen:
            return  # a slash command has no message; a typed command needs no 👀
        await self._web.reactions_add(channel=chat_id, timestamp=message_id, name=PROCESSING_EMOJI)

    async def _remove_processing(self, chat_id: str, message_id: str) -> None:
        assert self._web is not None
        await self._web.reactions_remove(
            channel=chat_id, timestamp=message_id, name=PROCESSING_EMOJI
        )

    def result_from_error(self, exc: BaseException) -> SendResult:
        return result_from_error(exc, self.options.bot_token, self.options.app_token)

    # -- helpers -------------------------------------------------------------------------------
    def _follow(self, thread_ts: str) -> None:
        _remember(self._followed, thread_ts, FOLLOWED_THREADS)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _clean(self, exc: BaseException) -> str:
        if isinstance(exc, SlackApiError):
            return f"Slack answered {exc.response.get('error')}"
        text = str(exc) or type(exc).__name__
        return redact(text, self.options.bot_token, self.options.app_token)


def _remember(seen: OrderedDict[str, None], key: str, limit: int) -> None:
    """Add to a bounded, most-recent-last set."""
    seen[key] = None
    seen.move_to_end(key)
    if len(seen) > limit:
        seen.popitem(last=False)
