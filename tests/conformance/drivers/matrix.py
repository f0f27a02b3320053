"""Matrix through a real Synapse (tests/peers/synapse_server.py); the users are matrix-nio
clients logged in as alice, bob and stranger.

Rooms are made once: a direct chat with the bot for each user and a group with alice, bob and
the bot. The bot joins them here with its own token (the adapter's auto-join on invite has its
own tests), so every test starts with the rooms in place. Synapse keeps history, so reset()
remembers the time and bot_messages() shows only what the bot posted after it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
    TypingNoticeEvent,
)

from tests.conformance.driver import BotMessage, Features, PlatformDriver, Users
from tests.peers.synapse_server import SynapseServer, SynapseUnavailable, shared_synapse

PAGE = 100
MAX_PAGES = 20


class Driver(PlatformDriver):
    platform = "matrix"
    features = Features(groups=True, mentions=True, restart=True)
    users = Users(alice="@alice:localhost", bob="@bob:localhost", stranger="@stranger:localhost")

    def __init__(self) -> None:
        self.server: SynapseServer | None = None
        self.clients: dict[str, AsyncClient] = {}
        self.rooms: dict[str, str] = {}  # user id -> their DM with the bot
        self.group = ""
        self.readers: dict[str, str] = {}  # room id -> the user who made it (and reads it)
        self.bot_id = ""
        self._since_ms = 0
        self._typing: set[str] = set()  # rooms where someone saw the bot typing
        self._watchers: list[asyncio.Task] = []

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        try:
            self.server = shared_synapse()  # on this (main) thread: see synapse_server.py
        except SynapseUnavailable as exc:
            pytest.skip(str(exc))
        bot = self.server.accounts["hermes"]
        self.bot_id = bot.user_id
        for name in ("alice", "bob", "stranger"):
            account = self.server.accounts[name]
            client = AsyncClient(self.server.url, account.user_id, config=AsyncClientConfig())
            client.restore_login(account.user_id, account.device_id, account.access_token)
            self.clients[account.user_id] = client
        users = self.users
        for user in (users.alice, users.bob, users.stranger):
            self.rooms[user] = await self.create_room(user, [self.bot_id], direct=True)
        self.group = await self.create_room(
            users.alice, [users.bob, self.bot_id], name="Hermes test group"
        )
        await self.join(users.bob, self.group)
        for room in [*self.rooms.values(), self.group]:
            await self.bot_join(room)
        for client in self.clients.values():
            self._watchers.append(asyncio.create_task(self._watch_typing(client)))

    async def stop(self) -> None:
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for client in self.clients.values():
            await client.close()

    async def reset(self) -> None:
        self._since_ms = int(time.time() * 1000)
        self._typing.clear()

    # -- configuration ----------------------------------------------------------------------
    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        return {
            "MATRIX_HOMESERVER": self.server.url,
            "MATRIX_ACCESS_TOKEN": self.server.accounts["hermes"].access_token,
            "MATRIX_ALLOWED_USERS": ",".join(allowed),
        }

    def bad_credentials_env(self) -> dict[str, str]:
        return {**self.env([self.users.alice]), "MATRIX_ACCESS_TOKEN": "syt_bm90aGluZw_wrong_0"}

    # -- rooms ------------------------------------------------------------------------------
    async def create_room(
        self, owner: str, invite: list[str], *, direct: bool = False, name: str = ""
    ) -> str:
        answer = await self.clients[owner].room_create(
            name=name,
            invite=invite,
            is_direct=direct,
            preset=RoomPreset.trusted_private_chat if direct else RoomPreset.private_chat,
        )
        assert isinstance(answer, RoomCreateResponse), answer
        self.readers[answer.room_id] = owner
        return answer.room_id

    async def join(self, user: str, room_id: str) -> None:
        answer = await self.clients[user].join(room_id)
        assert not isinstance(answer, ErrorResponse), answer

    async def bot_join(self, room_id: str) -> None:
        token = self.server.accounts["hermes"].access_token
        async with httpx.AsyncClient(timeout=30.0, trust_env=False) as http:
            answer = await http.post(
                f"{self.server.url}/_matrix/client/v3/join/{room_id}",
                headers={"Authorization": f"Bearer {token}"},
                json={},
            )
        answer.raise_for_status()

    def dm(self, user: str) -> str:
        return self.rooms[user]

    # -- what a user does -------------------------------------------------------------------
    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text, "m.mentions": {}}
        if mention:  # as Element sends a mention: a pill, the name in the body, m.mentions
            name = self.bot_id[1:].split(":")[0]
            content["body"] = f"{name}: {text}"
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = (
                f'<a href="https://matrix.to/#/{self.bot_id}">{name}</a>: {text}'
            )
            content["m.mentions"] = {"user_ids": [self.bot_id]}
        if thread:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread},
            }
        await self.send_raw(user, chat or self.dm(user), content)

    async def send_raw(self, user: str, room_id: str, content: dict[str, Any]) -> str:
        answer = await self.clients[user].room_send(room_id, "m.room.message", content)
        assert isinstance(answer, RoomSendResponse), answer
        return answer.event_id

    async def new_thread(self, user: str) -> str:
        return await self.send_raw(
            user, self.group, {"msgtype": "m.text", "body": "a thread root", "m.mentions": {}}
        )

    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        command = "/deny" if choice == "deny" else "/approve"
        group = prompt.chat != self.dm(user)
        await self.send(user, command, chat=prompt.chat, mention=group, thread=prompt.thread)

    async def send_malformed(self) -> None:
        # Synapse refuses a non-string body or msgtype from a client (a federated server could
        # still relay one), but it relays a thread relation whose root is a number.
        junk = {"rel_type": "m.thread", "event_id": 42}
        await self.send_raw(
            self.users.alice,
            self.dm(self.users.alice),
            {"msgtype": "m.text", "body": "junk", "m.relates_to": junk},
        )

    async def restart(self) -> None:
        await self.server.restart_async()

    # -- what the test observes ---------------------------------------------------------------
    async def room_events(self, room_id: str) -> list[dict[str, Any]]:
        """Every event in the room since reset(), oldest first, read as a member."""
        client = self.clients[self.readers[room_id]]
        found: list[dict[str, Any]] = []
        start = ""
        for _ in range(MAX_PAGES):
            page = await client.room_messages(
                room_id, start=start or None, direction=MessageDirection.back, limit=PAGE
            )
            assert not isinstance(page, ErrorResponse), page
            events = [e.source for e in page.chunk]
            found.extend(e for e in events if e.get("origin_server_ts", 0) >= self._since_ms)
            older = any(e.get("origin_server_ts", 0) < self._since_ms for e in events)
            if older or not page.chunk or not page.end:
                break
            start = page.end
        found.reverse()
        return found

    async def bot_messages(self, chat: str) -> list[BotMessage]:
        messages: dict[str, BotMessage] = {}
        for event in await self.room_events(chat):
            if event.get("sender") != self.bot_id or event.get("type") != "m.room.message":
                continue
            content = event.get("content", {})
            relation = content.get("m.relates_to") or {}
            if relation.get("rel_type") == "m.replace":
                original = messages.get(relation.get("event_id", ""))
                if original is not None:
                    original.text = content.get("m.new_content", {}).get("body", "")
                    original.edits += 1
                continue
            thread = relation.get("event_id", "") if relation.get("rel_type") == "m.thread" else ""
            event_id = event["event_id"]
            messages[event_id] = BotMessage(event_id, chat, content.get("body", ""), thread=thread)
        return list(messages.values())

    async def typing_seen(self, chat: str) -> bool:
        return chat in self._typing

    async def _watch_typing(self, client: AsyncClient) -> None:
        """A user's own /sync loop, noting every room where the bot was shown typing."""
        since = None
        while True:
            answer = await client.sync(timeout=10_000, since=since)
            if not isinstance(answer, SyncResponse):
                await asyncio.sleep(0.5)
                continue
            since = answer.next_batch
            for room_id, info in answer.rooms.join.items():
                for event in info.ephemeral:
                    if isinstance(event, TypingNoticeEvent) and self.bot_id in event.users:
                        self._typing.add(room_id)
