"""The Mattermost adapter: REST v4 for sending, the websocket for receiving, a catch-up of
missed posts after every reconnect (and after a gateway restart: the newest handled post's
time is kept in HERMES_HOME/cache/mattermost)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from hermes_gateway.agent.checkpoints import write_atomic_bytes
from hermes_gateway.core.types import (
    Attachment,
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Platform,
    SendResult,
)
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.connection import StatusLatch, StreamTask
from hermes_gateway.platforms.downloads import with_downloads
from hermes_gateway.platforms.extra import with_rates
from hermes_gateway.platforms.processing_reaction import ProcessingReaction

from . import MAX_POST_LENGTH, auth_failed, options_from_settings
from .client import MattermostClient, MattermostError, result_from_error
from .convert import (
    BotIdentity,
    Converted,
    MalformedEvent,
    PostContext,
    convert_post,
    parse_posted,
)
from .events import EventStream

log = logging.getLogger("hermes.mattermost")

PROCESSING_EMOJI = "eyes"
RECENT_POSTS = 1024
SAVE_DELAY = 1.0  # seconds: the catch-up point is saved at most this often


class MattermostAuthError(RuntimeError):
    """The token was rejected; the message says what to do and never contains the token."""


class MattermostAdapter(Adapter):
    platform = Platform.MATTERMOST
    capabilities = Capabilities(
        max_length=MAX_POST_LENGTH,
        markup="markdown",
        can_edit=True,
        typing=True,
        threads=True,
        reactions=True,
        images=True,
        files=True,
        # Interactive buttons need the Mattermost server to call back into the gateway over
        # HTTP; approvals are answered with /approve and /deny instead (outbound-only setup).
        buttons=False,
        global_rate=10.0,
    )

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.options = options_from_settings(settings)
        self.capabilities = with_rates(MattermostAdapter.capabilities, self.options)
        self.client = MattermostClient(self.options)
        self._status = StatusLatch(context.report_status)
        self._cache = context.home.cache_dir / "mattermost"
        self.identity: BotIdentity | None = None
        self._recent: OrderedDict[str, None] = OrderedDict()  # post ids handed over lately
        self._saving: asyncio.Task | None = None
        self.since = 0  # create_at (ms) of the newest post handled: the catch-up starts here
        self._stream: StreamTask | None = None
        self._reaction = ProcessingReaction(
            Platform.MATTERMOST.value, self._add_processing, self._remove_processing
        )

    def __repr__(self) -> str:
        return f"MattermostAdapter({self.options!r})"

    # -- lifecycle ---------------------------------------------------------------------------
    async def connect(self) -> None:
        try:
            await self._identify()
        except MattermostError as exc:
            await self.client.close()
            if exc.status in (401, 403):
                raise MattermostAuthError(auth_failed(exc.status, self.options.url)) from None
            if 400 <= exc.status < 500 and exc.status != 429:  # not a Mattermost API there
                raise RuntimeError(
                    f"Mattermost at {self.options.url} answered {exc}: check MATTERMOST_URL"
                ) from None
            self._status("connecting", f"cannot reach Mattermost at {self.options.url}: {exc}")
        stream = EventStream(
            self.client, self._status, self._identify, self.on_posted, self.catch_up
        )
        self._stream = StreamTask(stream, "mattermost-websocket")
        if self.options.processing_reaction:
            self._reaction.attach(self.context.listen)
        fatal = await self._stream.first_connection()
        if fatal:
            await self.disconnect(report=False)
            raise MattermostAuthError(fatal)

    async def _identify(self) -> None:
        if self.identity is not None:
            return
        me = await self.client.me()
        self.identity = BotIdentity(str(me["id"]), str(me.get("username") or ""))
        self.since = self._load_since()

    async def disconnect(self, report: bool = True) -> None:
        self._reaction.detach()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if self._saving is not None and not self._saving.done():
            self._saving.cancel()
            if self.identity is not None:
                await self._save_since()
        await self.client.close()
        if report:
            self._status("stopped", "")

    # -- inbound -----------------------------------------------------------------------------
    async def on_posted(self, data: Any) -> None:
        """A websocket "posted" event: returns once stored; raises when it could not be."""
        try:
            post, context = parse_posted(data)
            converted = convert_post(post, context, self.identity, self.options.require_mention)
        except (MalformedEvent, KeyError, TypeError, ValueError) as exc:
            log.warning("mattermost: skipped a malformed posted event: %s", exc)
            return
        await self._deliver(post, converted)

    async def catch_up(self) -> None:
        """Posts created since the newest one handled, in every channel the bot is in."""
        try:
            channels = await self.client.my_channels(self.identity.id)
            if not self.since:  # the first start: only what comes from now on
                self._advance(max((c.get("last_post_at") or 0 for c in channels), default=0))
                return
            for channel in channels:
                if (channel.get("last_post_at") or 0) < self.since:
                    continue
                for post in await self.client.posts_since(channel["id"], self.since):
                    if post.get("create_at", 0) >= self.since and not post.get("delete_at"):
                        await self._caught_up(post, channel)
        except MattermostError as exc:
            log.warning("mattermost: catching up on missed posts failed: %s", exc)

    async def _caught_up(self, post: dict, channel: dict) -> None:
        name = ""
        if post.get("user_id") and post["user_id"] != self.identity.id:
            try:
                name = str((await self.client.user(post["user_id"])).get("username") or "")
            except MattermostError:
                pass
        context = PostContext(
            channel_type=str(channel.get("type") or ""),
            sender_name=name,
            channel_name=str(channel.get("display_name") or ""),
        )
        try:
            converted = convert_post(post, context, self.identity, self.options.require_mention)
        except (MalformedEvent, KeyError, TypeError, ValueError) as exc:
            log.warning("mattermost: skipped a malformed post: %s", exc)
            return
        await self._deliver(post, converted)

    async def _deliver(self, post: dict, converted: Converted | None) -> None:
        # The websocket and a catch-up may both bring a post: hand it over once (the inbox
        # would drop the second, but a file would be downloaded twice).
        if post["id"] in self._recent:
            return
        if converted is not None:
            await self.context.deliver_inbound(await self._with_files(converted))
        self._recent[post["id"]] = None
        if len(self._recent) > RECENT_POSTS:
            self._recent.popitem(last=False)
        self._advance(int(post.get("create_at") or 0))

    async def _with_files(self, converted: Converted) -> InboundMessage:
        limit = self.options.max_file_bytes
        return await with_downloads(
            converted.message,
            converted.files,
            cache_dir=self._cache,
            max_bytes=limit,
            fetch=lambda ref: self.client.download(ref.id, limit),
            errors=(MattermostError,),
        )

    def _advance(self, create_at: int) -> None:
        if create_at > self.since:
            self.since = create_at
            if self._saving is None or self._saving.done():  # at most one write a second
                self._saving = asyncio.create_task(self._save_since(delay=SAVE_DELAY))

    async def _save_since(self, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        data = json.dumps({"since": self.since}).encode()
        try:
            await asyncio.to_thread(write_atomic_bytes, self._state_file(), data)
        except OSError as exc:  # only the catch-up after a gateway restart depends on it
            log.warning("mattermost: saving the catch-up point failed: %s", exc)

    def _state_file(self) -> Path:
        return self._cache / f"state-{self.identity.id}.json"

    def _load_since(self) -> int:
        try:
            return int(json.loads(self._state_file().read_text())["since"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    # -- outbound ----------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        body: dict[str, Any] = {"channel_id": message.chat_id, "message": message.text}
        if message.thread_id:
            body["root_id"] = message.thread_id
        try:
            file_ids = [await self._upload(message.chat_id, a) for a in message.attachments]
            if file_ids:
                body["file_ids"] = file_ids
            post = await self.client.create_post(body)
        except MattermostError as exc:
            return result_from_error(exc)
        except OSError as exc:
            return SendResult(ok=False, error=f"cannot read the attachment: {exc}", retryable=False)
        return SendResult(ok=True, message_id=str(post["id"]))

    async def _upload(self, channel_id: str, attachment: Attachment) -> str:
        path = Path(attachment.path)
        data = await asyncio.to_thread(path.read_bytes)
        return await self.client.upload(channel_id, path.name, data, attachment.mime_type)

    async def edit(
        self, chat_id: str, message_id: str, text: str, parse_mode: str = ""
    ) -> SendResult:
        try:
            await self.client.patch_post(message_id, text)
        except MattermostError as exc:
            return result_from_error(exc)
        return SendResult(ok=True, message_id=message_id)

    async def typing(self, chat_id: str, thread_id: str = "") -> None:
        if self.identity is None:
            return
        try:
            await self.client.typing(self.identity.id, chat_id, thread_id)
        except MattermostError as exc:  # a missing indicator is not worth an error
            log.debug("mattermost: typing failed: %s", exc)

    async def _add_processing(self, chat_id: str, message_id: str) -> None:
        await self.client.add_reaction(self.identity.id, message_id, PROCESSING_EMOJI)

    async def _remove_processing(self, chat_id: str, message_id: str) -> None:
        await self.client.remove_reaction(self.identity.id, message_id, PROCESSING_EMOJI)
