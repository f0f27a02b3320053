"""The Matrix adapter: log in (access token or password), sync, send / edit / typing, invites,
files both ways, and a 👀 reaction on a message while the agent works on it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from aiohttp import ClientConnectorError, ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    RoomResolveAliasResponse,
    RoomSendResponse,
)

from hermes_gateway.core.types import Capabilities, OutboundMessage, Platform, SendResult
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.connection import Backoff, StatusLatch, sleep_unless
from hermes_gateway.platforms.extra import with_rates
from hermes_gateway.platforms.processing_reaction import ProcessingReaction

from . import MAX_LENGTH, options_from_settings, token_rejected
from .content import edit_content, message_content, reaction_content
from .convert import BotIdentity, MalformedEvent, RoomInfo, convert_event, invite_is_direct
from .files import MatrixFiles, upload_failure
from .login import MatrixAuthError, log_in, result_from_error
from .media import MediaError, MediaRepo
from .state import StateFile
from .sync import SyncFailed, SyncLoop, SyncRejected

log = logging.getLogger("hermes.matrix")
# nio logs every state event of every room at INFO: keep the gateway's log readable.
if logging.getLogger("nio").level == logging.NOTSET:
    logging.getLogger("nio").setLevel(logging.WARNING)

TYPING_MS = 8000  # the delivery layer refreshes typing every few seconds while a turn runs
PROCESSING = "👀"
MAX_REMEMBERED = 1024  # our own recent event ids: replies to them address the bot in groups
_TRANSIENT = (ClientError, OSError, TimeoutError, SyncFailed)


class MatrixAdapter(Adapter):
    platform = Platform.MATRIX
    capabilities = Capabilities(
        max_length=MAX_LENGTH,
        length_unit="chars",
        markup="markdown",  # we render body (plain) and formatted_body (HTML) ourselves
        can_edit=True,
        typing=True,
        threads=True,
        reactions=True,
        images=True,
        files=True,
        buttons=False,  # approvals are answered with /approve or /deny
        per_chat_rate=1.0,
        global_rate=10.0,
    )

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.options = options_from_settings(settings)
        self.capabilities = with_rates(MatrixAdapter.capabilities, self.options)
        self._allowed = set(getattr(settings, "allowed_users", ()) or ())
        self._allow_all = bool(getattr(settings, "allow_all_users", False))
        self._status = StatusLatch(context.report_status)
        self.client = AsyncClient(
            self.options.homeserver,
            user=self.options.user_id,
            store_path=None,
            # nio's own retries off: our loops back off, the delivery layer retries sends.
            config=AsyncClientConfig(
                max_limit_exceeded=0, max_timeouts=0, request_timeout=30, encryption_enabled=False
            ),
        )
        self.identity = BotIdentity(self.options.user_id)
        self.files = MatrixFiles(
            MediaRepo(self.options.homeserver, lambda: self.client.access_token or ""),
            context.home.cache_dir / "matrix",
            self.options.max_file_bytes,
        )
        self.loop: SyncLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        self._ours: OrderedDict[str, None] = OrderedDict()
        self._aliases: dict[str, str] = {}
        self._typing_rooms: set[str] = set()
        self._reactions_sent: dict[tuple[str, str], str] = {}
        self._encrypted_warned: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._reaction = ProcessingReaction("matrix", self._react, self._unreact)

    def __repr__(self) -> str:
        return f"MatrixAdapter({self.options!r})"

    # -- lifecycle ---------------------------------------------------------------------
    async def connect(self) -> None:
        ready = True
        try:
            await self._start_session()
        except MatrixAuthError as exc:
            self._status("failed", str(exc))
            await self.client.close()
            raise
        except _TRANSIENT as exc:  # offline at boot: keep trying in the background
            ready = False
            self._status("connecting", f"cannot reach {self.options.homeserver}: {exc}")
        if self.options.processing_reaction:
            self._reaction.attach(self.context.listen)
        self._task = asyncio.create_task(self._run(ready), name="matrix-sync")
        if ready:
            self._status("connected", "")

    async def _start_session(self) -> None:
        """Log in; on a first run also sync once, so that whatever users send from the moment
        we say "connected" is after our token. With a saved token the loop's first sync
        delivers what came meanwhile: after connect() has returned, never inside it (the
        engine replays its pending inbox right after connecting)."""
        await self._login()
        store = StateFile(self._state_folder, self.options.homeserver, self.me)
        state = store.load() if self.loop is None else self.loop.state
        if self.options.password and not self.options.access_token:
            state.device_id = self.client.device_id or ""
        self.loop = SyncLoop(
            self.client,
            self.options,
            self._status,
            store,
            state,
            self._deliver,
            self._on_invite,
            self._relogin,
        )
        try:
            if not state.next_batch:
                await self.loop.sync_once(0)  # learns the rooms; history is not answered
        except SyncRejected as exc:
            raise MatrixAuthError(token_rejected(self.options.homeserver, exc.code)) from None
        if self.options.home_room:
            self._spawn(self._join_home_room())

    async def _run(self, ready: bool) -> None:
        backoff = Backoff()
        while not ready and not self._stopping.is_set():
            await sleep_unless(self._stopping, backoff.next())
            try:
                await self._start_session()
                ready = True
                self._status("connected", "")
            except MatrixAuthError as exc:
                self._status("failed", str(exc))
                return
            except _TRANSIENT as exc:
                self._status("connecting", f"cannot reach {self.options.homeserver}: {exc}")
        if self.loop is not None and not self._stopping.is_set():
            await self.loop.run()

    async def disconnect(self) -> None:
        self._stopping.set()
        self._reaction.detach()
        if self.loop is not None:
            self.loop.stop()
        if self._task is not None:
            self._task.cancel()  # also drops the long poll in flight
            await asyncio.wait([self._task], timeout=1.0)
            self._task = None
        for task in list(self._tasks):
            task.cancel()
        await self.client.close()
        await self.files.repo.close()
        self._status("stopped", "")

    # -- credentials -------------------------------------------------------------------
    @property
    def me(self) -> str:
        return self.client.user_id or self.options.user_id

    @property
    def _state_folder(self) -> Path:
        return self.context.home.root / "matrix"

    async def _login(self) -> None:
        self.identity = await log_in(self.client, self.options, self._state_folder)

    async def _relogin(self, code: str) -> str:
        """After M_UNKNOWN_TOKEN: a password session logs in again (""); a token cannot."""
        if self.options.access_token:
            return token_rejected(self.options.homeserver, code)
        try:
            await self._login()
        except Exception as exc:
            return str(exc)
        return ""

    # -- inbound -------------------------------------------------------------------------
    async def _deliver(self, room_id: str, event: dict[str, Any]) -> None:
        """One timeline event: returns once it is stored or known to be skippable; raises
        when it could not be stored (so the batch is not acknowledged)."""
        if event.get("type") == "m.room.encrypted":
            if room_id not in self._encrypted_warned:
                self._encrypted_warned.add(room_id)
                log.warning("matrix: %s is end-to-end encrypted; the bot cannot read it", room_id)
            return
        room = self.client.rooms.get(room_id)
        info = RoomInfo(
            room_id, room.member_count if room else 2, room.display_name if room else ""
        )
        try:
            inbound = convert_event(
                event,
                info,
                self.identity,
                self.options.require_mention,
                sender_name=lambda user: (room.user_name(user) or "") if room else "",
                is_ours=lambda event_id: event_id in self._ours,
            )
        except MalformedEvent as exc:
            log.warning("matrix: skipped a malformed event in %s: %s", room_id, exc)
            return
        if inbound is not None:
            inbound = await self.files.attach(inbound, event)
            await self.context.deliver_inbound(inbound)

    async def _on_invite(self, room_id: str, invite_state: list[dict[str, Any]]) -> None:
        inviter, direct = invite_is_direct(invite_state, self.me)
        allowed = self._allow_all or inviter in self._allowed
        mode = self.options.auto_join
        if mode == "off":
            return
        if allowed or (mode == "dm" and direct):
            answer = await self.client.join(room_id)
            what = "joined"
        else:
            answer = await self.client.room_leave(room_id)  # declines the invite
            what = "declined"
        if isinstance(answer, ErrorResponse):
            log.warning("matrix: answering the invite to %s failed: %s", room_id, answer)
        else:
            log.info("matrix: %s the invite to %s from %s", what, room_id, inviter or "?")

    async def _join_home_room(self) -> None:
        room_id = await self._room_id(self.options.home_room)
        if room_id and room_id not in self.client.rooms:
            answer = await self.client.join(room_id)
            if isinstance(answer, ErrorResponse):
                log.warning("matrix: cannot join MATRIX_HOME_ROOM %s: %s", room_id, answer)

    # -- outbound ------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        room_id = await self._room_id(message.chat_id)
        if not room_id:
            return SendResult(
                ok=False, error=f"no Matrix room {message.chat_id!r}", retryable=False
            )
        sent: list[str] = []
        reply_to = message.reply_to  # the first event answers it; the rest follow
        contents = [*message.attachments]
        if message.text or not contents:
            contents.append(message.text)
        for item in contents:
            if isinstance(item, str):
                content = message_content(item, message.thread_id, reply_to)
            else:
                try:
                    content = await self.files.content(item, message.thread_id, reply_to)
                except MediaError as exc:
                    return _partly(upload_failure(exc), sent)
            result = await self._room_send(room_id, "m.room.message", content)
            if not result.ok:
                return _partly(result, sent)
            sent.append(result.message_id)
            self._remember(result.message_id)
            reply_to = ""
        if room_id in self._typing_rooms:  # the reply is there: stop "typing…" at once
            self._typing_rooms.discard(room_id)
            self._spawn(self.client.room_typing(room_id, False))
        return SendResult(ok=True, message_id=sent[0])

    async def edit(
        self, chat_id: str, message_id: str, text: str, parse_mode: str = ""
    ) -> SendResult:
        room_id = await self._room_id(chat_id)
        if not room_id or not message_id.startswith("$"):
            return SendResult(
                ok=False,
                error=f"no Matrix message {message_id!r}",
                retryable=False,
                kind="not_found",
            )
        result = await self._room_send(room_id, "m.room.message", edit_content(message_id, text))
        return dataclasses.replace(result, message_id=message_id) if result.ok else result

    async def typing(self, chat_id: str, thread_id: str = "") -> None:
        room_id = await self._room_id(chat_id)
        if not room_id:
            return
        try:
            answer = await self.client.room_typing(room_id, True, timeout=TYPING_MS)
        except _TRANSIENT as exc:  # a missing indicator is not worth an error
            log.debug("matrix: typing failed: %s", exc)
            return
        if not isinstance(answer, ErrorResponse):
            self._typing_rooms.add(room_id)

    async def _room_send(self, room_id: str, kind: str, content: dict[str, Any]) -> SendResult:
        try:
            answer = await self.client.room_send(room_id, kind, content)
        except ClientConnectorError as exc:  # never reached the server: safe to send again
            return SendResult(ok=False, error=f"cannot reach the homeserver: {exc}")
        except _TRANSIENT as exc:  # it may have arrived: never resent
            return SendResult(ok=False, error=f"sending failed: {exc}", retryable=False)
        if isinstance(answer, RoomSendResponse):
            return SendResult(ok=True, message_id=answer.event_id)
        return result_from_error(answer)

    async def _room_id(self, chat_id: str) -> str:
        """A room id as is; an alias (#room:server) resolved once."""
        if not chat_id.startswith("#"):
            return chat_id
        if chat_id not in self._aliases:
            answer = await self.client.room_resolve_alias(chat_id)
            if not isinstance(answer, RoomResolveAliasResponse):
                log.warning("matrix: cannot resolve %s: %s", chat_id, answer)
                return ""
            self._aliases[chat_id] = answer.room_id
        return self._aliases[chat_id]

    def _remember(self, event_id: str) -> None:
        self._ours[event_id] = None
        while len(self._ours) > MAX_REMEMBERED:
            self._ours.popitem(last=False)

    # -- the processing reaction ------------------------------------------------------------
    async def _react(self, room_id: str, event_id: str) -> None:
        result = await self._room_send(
            room_id, "m.reaction", reaction_content(event_id, PROCESSING)
        )
        if result.ok:
            self._reactions_sent[(room_id, event_id)] = result.message_id

    async def _unreact(self, room_id: str, event_id: str) -> None:
        reaction = self._reactions_sent.pop((room_id, event_id), "")
        if reaction:
            await self.client.room_redact(room_id, reaction)

    def _spawn(self, call: Any) -> None:
        task = asyncio.ensure_future(call)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _partly(result: SendResult, sent: list[str]) -> SendResult:
    """A failure after part of the message is out: sending it all again would repeat that."""
    return dataclasses.replace(result, retryable=False) if sent else result
