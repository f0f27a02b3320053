"""The Discord adapter: connect (login, gateway, command sync), send / edit / typing, and the
connection loop around discord.py's own resume-and-reconnect."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import discord
from discord.http import Route

from hermes_gateway.core.types import Capabilities, OutboundMessage, Platform, SendResult
from hermes_gateway.platforms.base import Adapter, AdapterContext
from hermes_gateway.platforms.connection import Backoff, StatusLatch, sleep_unless
from hermes_gateway.platforms.extra import with_rates

from . import DEFAULT_API_BASE, options_from_settings
from .client import HermesClient
from .convert import command_payloads, components
from .errors import INTENTS, DiscordAuthError, describe, rejected, result_from_error
from .files import UnreadableFile, batches, upload
from .inbound import Inbound

log = logging.getLogger("hermes.discord")

NO_PINGS = {"parse": [], "replied_user": False}  # the model's text never pings anyone
LOST = "the connection to Discord was lost; reconnecting"


def intents() -> discord.Intents:
    # message_content is privileged: it must be switched on in the developer portal.
    return discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=True)


class DiscordAdapter(Adapter):
    platform = Platform.DISCORD
    capabilities = Capabilities(
        max_length=2000,
        length_unit="chars",
        markup="markdown",
        can_edit=True,
        typing=True,
        threads=True,
        reactions=True,
        images=True,
        files=True,
        buttons=True,
        per_chat_rate=1.0,
        global_rate=40.0,
    )

    def __init__(self, settings: Any, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.options = options_from_settings(settings)
        self.capabilities = with_rates(DiscordAdapter.capabilities, self.options)
        self._status = StatusLatch(context.report_status)
        self.client = HermesClient(
            api_base=self.options.api_base,
            gateway_url=self.options.gateway_url,
            intents=intents(),
            on_event=self._on_event,
        )
        cache = context.home.cache_dir / "discord"
        self.inbound = Inbound(self.client, self.options, context, settings, cache)
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._backoff = Backoff()
        self._logged_in = False
        self._failure = ""
        self._run_task: asyncio.Task | None = None
        self._menu_task: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"DiscordAdapter({self.options!r})"

    @property
    def vouches(self) -> bool:
        return bool(self.options.allowed_roles)

    def vouches_for(self, user_id: str) -> bool:
        """DISCORD_ALLOWED_ROLES: the engine asks this after its allowlists."""
        return self.inbound.roles.allows(user_id)

    # -- lifecycle ---------------------------------------------------------------
    async def connect(self) -> None:
        self._stopping.clear()
        try:
            await self._login()
        except DiscordAuthError as exc:
            await self._fail(str(exc))
            raise
        except Exception as exc:  # offline at boot: the connection loop keeps trying
            self._status("connecting", f"cannot reach Discord: {self._clean(exc)}")
        self.inbound.start()
        self._run_task = asyncio.create_task(self._run(), name="discord-gateway")
        if not self._logged_in:
            return
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait(
            [ready, self._run_task],
            timeout=self.options.ready_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        ready.cancel()
        if self._failure:
            raise DiscordAuthError(self._failure)

    async def _login(self) -> None:
        try:
            await self.client.login(self.options.token)
        except discord.LoginFailure:
            raise DiscordAuthError(rejected("the token is not valid")) from None
        if not self.options.gateway_url and self.options.api_base != DEFAULT_API_BASE:
            # A self-hosted server names its gateway, as Discord does, at GET /gateway/bot.
            found = await self.client.http.request(Route("GET", "/gateway/bot"))
            self.client.set_gateway(str(found["url"]))
        self._logged_in = True
        if self.options.sync_commands and self._menu_task is None:
            self._menu_task = asyncio.create_task(self._sync_commands(), name="discord-commands")

    async def _run(self) -> None:
        """discord.py resumes and reconnects on its own; this loop handles what ends its
        connect(): a rejected token, a missing intent, or a close it gives up on."""
        while not self._stopping.is_set():
            try:
                if not self._logged_in:
                    await self._login()
                await self.client.connect(reconnect=True)
                reason = "the gateway closed the connection"
            except DiscordAuthError as exc:
                await self._fail(str(exc))
                return
            except discord.PrivilegedIntentsRequired:
                await self._fail(INTENTS)
                return
            except discord.ConnectionClosed as exc:
                if exc.code == 4004:
                    await self._fail(rejected("the gateway refused it (close code 4004)"))
                    return
                reason = f"the gateway closed the connection (code {exc.code})"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = self._clean(exc)
            if self._stopping.is_set():
                return
            self._status("connecting", f"cannot reach Discord: {reason}; retrying")
            if self.client.is_closed():  # discord.py closed itself: start over with a login
                self.client.clear()
                self._logged_in = False
            await sleep_unless(self._stopping, self._backoff.next())

    async def _on_event(self, name: str, value: Any) -> None:
        if name in ("connect", "resumed"):
            self._ready.set()
            self._backoff.reset()
            self._status("connected", "")
        elif name == "disconnect":
            if not self._stopping.is_set():
                self._status("connecting", LOST)
        else:
            await self.inbound.on_event(name, value)

    async def _sync_commands(self) -> None:
        payload = command_payloads(self.context.command_menu or [])
        try:
            await self.client.http.bulk_upsert_global_commands(self.client.application_id, payload)
        except Exception as exc:  # a menu is a nicety: never a reason not to connect
            log.warning("discord: syncing slash commands failed: %s", self._clean(exc))

    async def _fail(self, reason: str) -> None:
        self._failure = reason
        self._status("failed", reason)
        self._stopping.set()
        await self._close()

    async def disconnect(self) -> None:
        self._stopping.set()
        await self._close()
        if self._run_task is not None:
            self._run_task.cancel()
            await asyncio.wait([self._run_task], timeout=1.0)
            self._run_task = None
        self._status("stopped", "")

    async def _close(self) -> None:
        if self._menu_task is not None:
            self._menu_task.cancel()
        await self.inbound.stop()
        try:
            await self.client.close()
        except Exception as exc:
            log.debug("discord: closing the client failed: %s", self._clean(exc))

    # -- outbound ------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        channel = message.thread_id or message.chat_id
        if not channel.isdigit():
            return _no_channel(channel)
        if not message.text.strip() and not message.attachments:
            return SendResult(ok=False, error="an empty Discord message", retryable=False)
        payload: dict[str, Any] = {"allowed_mentions": NO_PINGS}
        if message.text.strip():
            payload["content"] = message.text
        if message.reply_to.isdigit():
            payload["message_reference"] = {
                "message_id": message.reply_to,
                "fail_if_not_exists": False,
            }
        if message.buttons:
            payload["components"] = components(message.buttons)
        if message.attachments:
            return await self._send_files(channel, payload, message)
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel)
        try:
            sent = await self.client.http.request(route, json=payload)
        except Exception as exc:
            return result_from_error(exc, self.options.token)
        return SendResult(ok=True, message_id=str(sent["id"]))

    async def _send_files(
        self, channel: str, payload: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        """The text, reply and buttons go with the first 10 files; more files follow in
        messages of their own. The result names the first message."""
        first = ""
        for batch in batches(message.attachments):
            try:
                sent = await upload(self.client.http, channel, payload, batch)
            except UnreadableFile as exc:
                result = SendResult(ok=False, error=str(exc), retryable=False)
            except Exception as exc:
                result = result_from_error(exc, self.options.token)
            else:
                first = first or str(sent["id"])
                payload = {"allowed_mentions": NO_PINGS}
                continue
            # Part of the message is out: resending would repeat it.
            return dataclasses.replace(result, retryable=False) if first else result
        return SendResult(ok=True, message_id=first)

    async def edit(
        self, chat_id: str, message_id: str, text: str, parse_mode: str = ""
    ) -> SendResult:
        if not chat_id.isdigit() or not message_id.isdigit():
            return _no_channel(f"{chat_id}/{message_id}")
        try:
            await self._patch(chat_id, message_id, {"content": text, "allowed_mentions": NO_PINGS})
        except Exception as exc:
            return result_from_error(exc, self.options.token)
        return SendResult(ok=True, message_id=message_id)

    async def retire_buttons(
        self, prompt: OutboundMessage, message_id: str, outcome: str, by: str = ""
    ) -> None:
        # The text stays: the answer was said in the chat or to the one who pressed.
        channel = prompt.thread_id or prompt.chat_id  # where send() put it
        if not channel.isdigit() or not message_id.isdigit():
            return
        try:
            await self._patch(channel, message_id, {"components": []})
        except Exception as exc:
            log.info("discord: removing the buttons failed: %s", self._clean(exc))

    async def _patch(self, channel: str, message_id: str, body: dict[str, Any]) -> None:
        route = Route(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel,
            message_id=message_id,
        )
        await self.client.http.request(route, json=body)

    async def typing(self, chat_id: str, thread_id: str = "") -> None:
        channel = thread_id or chat_id
        if not channel.isdigit():
            return
        try:
            await self.client.http.send_typing(channel)
        except Exception as exc:  # a missing indicator is not worth an error
            log.debug("discord: typing failed: %s", self._clean(exc))

    def _clean(self, exc: BaseException) -> str:
        return describe(exc, self.options.token)


def _no_channel(what: str) -> SendResult:
    return SendResult(
        ok=False, error=f"no Discord channel {what!r}", retryable=False, kind="not_found"
    )
