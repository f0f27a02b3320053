"""Everything that comes in from Discord: messages and slash commands (in arrival order, one at
a time, into the engine's inbox), button presses (answered at once: Discord waits 3 s), and the
reactions that follow engine events. A prompt's buttons go when the engine retires them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import discord
from discord.http import Route

from hermes_gateway.core.types import ButtonPress, ChatType, InboundMessage, Platform
from hermes_gateway.platforms.base import AdapterContext
from hermes_gateway.platforms.connection import Backoff, sleep_unless

from . import DiscordOptions
from .convert import (
    convert_command,
    convert_message,
    is_conversation,
    place_of,
    thread_name,
)
from .errors import describe
from .files import with_files
from .reactions import StatusReactions
from .roles import RoleGate

log = logging.getLogger("hermes.discord")

QUEUE_LIMIT = 1000  # events waiting for the inbox; beyond it the gateway read waits
REMEMBERED = 1024  # messages whose channel we keep for reactions
DELIVERY_TRIES = 5
BUTTON_FAILED = "That did not work. Please try again."
EPHEMERAL = 64  # message flag: only the user who pressed sees the answer
THREAD_ARCHIVE_MINUTES = 1440


class Inbound:
    def __init__(
        self,
        client: discord.Client,
        options: DiscordOptions,
        context: AdapterContext,
        settings: Any = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.client = client
        self.cache_dir = cache_dir  # where attachments go; None: they are not downloaded
        self.options = options
        self.context = context
        self.roles = RoleGate(options.allowed_roles)
        # DISCORD_ALLOWED_USERS: no role lookup needed for them.
        self._listed = frozenset(getattr(settings, "allowed_users", ()) or ())
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._consumer: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        self._homes: OrderedDict[str, str] = OrderedDict()  # message id -> its channel
        self._reactions = StatusReactions(self._react, self._unreact) if options.reactions else None

    def start(self) -> None:
        self._stopping.clear()
        if self._consumer is None or self._consumer.done():
            self._consumer = asyncio.create_task(self._consume(), name="discord-inbound")
        if self._reactions is not None:
            self._reactions.attach(self.context.listen)

    async def stop(self) -> None:
        self._stopping.set()
        if self._reactions is not None:
            self._reactions.detach()
        if self._consumer is not None:
            self._consumer.cancel()
            await asyncio.wait([self._consumer], timeout=1.0)
            self._consumer = None

    async def on_event(self, name: str, value: Any) -> None:
        if name == "message":
            await self._queue.put(("message", value))
        elif name == "interaction":
            if value.type is discord.InteractionType.component:
                await self._on_button(value)
            elif value.type is discord.InteractionType.application_command:
                await self._on_command(value)

    # -- messages, in order ------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            kind, value = await self._queue.get()
            try:
                inbound = await self._convert(kind, value)
                if inbound is not None:
                    await self._deliver(inbound)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad event never stops the others
                log.warning("discord: skipped an inbound %s: %s", kind, self._clean(exc))

    async def _convert(self, kind: str, value: Any) -> InboundMessage | None:
        me = self.client.user
        if me is None:
            return None
        if kind == "command":
            inbound = convert_command(value)
            await self._learn_roles(value.user, inbound.source.chat_type)
            return inbound
        message: discord.Message = value
        if message.author.id == me.id or message.author.bot or not is_conversation(message):
            return None  # our own echo, other bots, and system notices
        try:
            inbound, place = convert_message(message, me.id, self.options.require_mention)
        except Exception as exc:
            log.warning("discord: skipped a malformed message %s: %s", message.id, exc)
            return None
        await self._learn_roles(message.author, place.chat_type)
        if self.cache_dir is not None and message.attachments:  # only addressed ones are fetched
            inbound = await with_files(
                inbound, message.attachments, self.cache_dir, self.options.max_file_bytes
            )
        home = str(message.channel.id)
        if self.options.auto_thread and place.chat_type is ChatType.GROUP and inbound.addressed:
            inbound = await self._in_new_thread(inbound, home)
        if not inbound.text.startswith("/"):  # commands answer at once: no 👀 on them
            self._remember(self._homes, inbound.message_id, home)
        return inbound

    async def _deliver(self, inbound: InboundMessage) -> None:
        backoff = Backoff(start=0.5, cap=5.0)
        for attempt in range(1, DELIVERY_TRIES + 1):
            try:
                await self.context.deliver_inbound(inbound)
                return
            except Exception as exc:
                if attempt == DELIVERY_TRIES:
                    log.error("discord: gave up storing message %s: %s", inbound.message_id, exc)
                    return
                log.warning("discord: message %s not stored yet (%s)", inbound.message_id, exc)
                await sleep_unless(self._stopping, backoff.next())

    async def _in_new_thread(self, inbound: InboundMessage, channel: str) -> InboundMessage:
        """auto_thread: the answer goes to a new thread started on the user's message."""
        try:
            thread = await self.client.http.start_thread_with_message(
                channel,
                inbound.message_id,
                name=thread_name(inbound.text),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
        except Exception as exc:  # no permission to create threads: answer in the channel
            log.info("discord: could not start a thread: %s", self._clean(exc))
            return inbound
        ident = str(thread["id"])
        source = dataclasses.replace(
            inbound.source,
            chat_id=ident,
            chat_type=ChatType.THREAD,
            thread_id=ident,
            chat_name=str(thread.get("name") or ""),
        )
        return dataclasses.replace(inbound, source=source)

    async def _learn_roles(self, user: Any, chat_type: ChatType) -> None:
        if not self.roles.active:
            return
        if isinstance(user, discord.Member):
            self.roles.note(str(user.id), [role.id for role in user.roles])
        elif chat_type is ChatType.DM and str(user.id) not in self._listed:
            guilds = [guild.id for guild in self.client.guilds]
            await self.roles.look_up(str(user.id), guilds, self._fetch_roles)

    async def _fetch_roles(self, guild_id: int, user_id: int) -> list[int] | None:
        try:
            member = await self.client.http.get_member(guild_id, user_id)
        except discord.NotFound:
            return None
        return [int(r) for r in member.get("roles", [])]

    # -- interactions --------------------------------------------------------------------
    async def _on_command(self, interaction: discord.Interaction) -> None:
        data = interaction.data or {}
        args = " ".join(str(o.get("value", "")) for o in data.get("options", []))
        echo = f"/{data.get('name', '')} {args}".strip()
        await self._respond(interaction, {"type": 4, "data": {"content": f"`{echo}`"}})
        await self._queue.put(("command", interaction))

    async def _on_button(self, interaction: discord.Interaction) -> None:
        user = interaction.user
        place = place_of(interaction.channel, interaction.guild_id)
        await self._learn_roles(user, place.chat_type)
        message = interaction.message
        press = ButtonPress(
            platform=Platform.DISCORD,
            chat_id=place.chat_id or str(interaction.channel_id or ""),
            user_id=str(user.id),
            data=str((interaction.data or {}).get("custom_id", "")),
            message_id=str(message.id) if message is not None else "",
            thread_id=place.thread_id,
            user_name=user.name or "",
        )
        text = "This button is no longer active."
        if self.context.deliver_action is not None:
            try:
                text = await self.context.deliver_action(press) or "Done."
            except Exception as exc:
                log.error("discord: a button press failed: %s", exc)
                text = BUTTON_FAILED
        reply = {"type": 4, "data": {"content": text[:2000], "flags": EPHEMERAL}}
        await self._respond(interaction, reply)

    async def _respond(self, interaction: discord.Interaction, body: dict) -> None:
        route = Route(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            interaction_id=interaction.id,
            interaction_token=interaction.token,
        )
        try:
            await self.client.http.request(route, json=body)
        except Exception as exc:
            log.warning("discord: answering an interaction failed: %s", self._clean(exc))

    # -- what follows engine events -----------------------------------------------------
    async def _react(self, chat_id: str, message_id: str, emoji: str) -> None:
        channel = self._homes.get(message_id)
        if channel is not None:  # only messages we received (not slash commands)
            await self.client.http.add_reaction(channel, message_id, emoji)

    async def _unreact(self, chat_id: str, message_id: str, emoji: str) -> None:
        channel = self._homes.get(message_id)
        if channel is not None:
            await self.client.http.remove_own_reaction(channel, message_id, emoji)

    @staticmethod
    def _remember(table: OrderedDict, key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > REMEMBERED:
            table.popitem(last=False)

    def _clean(self, exc: BaseException) -> str:
        return describe(exc, self.options.token)
