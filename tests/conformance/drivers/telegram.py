"""Telegram through the loopback Bot API peer (tests/peers/telegram_peer.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from tests.conformance.driver import BotMessage, Features, PeerProcessDriver, Users
from tests.peers.telegram_fixtures import TelegramPeerHandle, start_telegram_peer

GROUP = -1001500  # a forum supergroup: topics are Telegram's threads


class Driver(PeerProcessDriver):
    platform = "telegram"
    features = Features(groups=True, mentions=True, restart=True)
    users = Users(alice="111", bob="222", stranger="333")
    group = str(GROUP)

    peer: TelegramPeerHandle
    start_peer = staticmethod(start_telegram_peer)

    async def reset(self) -> None:
        await self.peer.aio.set_token(self.peer.default_token)
        await self.peer.aio.reset()

    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        return {
            "TELEGRAM_BOT_TOKEN": self.peer.default_token,
            "TELEGRAM_BASE_URL": self.peer.base_url,
            "TELEGRAM_BASE_FILE_URL": self.peer.file_url,
            "TELEGRAM_ALLOWED_USERS": ",".join(allowed),
        }

    def bad_credentials_env(self) -> dict[str, str]:
        return {**self.env([self.users.alice]), "TELEGRAM_BOT_TOKEN": "999999:WRONG-TOKEN"}

    def dm(self, user: str) -> str:
        return user  # a private chat's id is the user's id

    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        chat_id = int(chat or self.dm(user))
        if mention:
            text = f"@{self.peer.bot_username} {text}"
        fields = {"message_thread_id": int(thread)} if thread else {}
        kind = "private" if chat_id > 0 else "supergroup"
        await self.peer.aio.message(
            chat_id, text, user_id=int(user), chat_type=kind, first_name=f"U{user}", **fields
        )

    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        view = await self.peer.aio.messages(int(prompt.chat))
        buttons = _buttons(view[int(prompt.id)])
        data = next(b["callback_data"] for b in buttons if b["callback_data"].endswith(choice))
        await self.peer.aio.callback(int(prompt.chat), int(prompt.id), data, user_id=int(user))

    async def send_malformed(self) -> None:
        # A message without its chat and sender, as no real client sends it.
        body = {"kind": "message", "payload": {"message_id": 1, "date": 0, "text": 42}}
        await self.peer.aio._call("POST", "/_peer/raw", json=body)

    async def new_thread(self, user: str) -> str:
        return "77"  # a forum topic: Telegram creates it with the first message that names it

    async def restart(self) -> None:
        # The Bot API drops the connection, then answers 502 once; the update queue survives.
        # An update nobody asked for ends the poll in flight, so the outage starts now.
        calls = await self._polls()
        await self.peer.aio.fail("getUpdates", status=0)
        await self.peer.aio.fail("getUpdates", status=502, description="Bad Gateway")
        await self.peer.aio._call("POST", "/_peer/raw", json={"kind": "poll", "payload": {}})
        for _ in range(200):  # until both failures were served (bounded: 10 s)
            if await self._polls() >= calls + 3:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the adapter did not poll through the outage")

    async def _polls(self) -> int:
        """getUpdates requests served so far, failed ones included."""
        return (await self.peer.aio.stats())["calls"].get("getUpdates", 0)

    async def bot_messages(self, chat: str) -> list[BotMessage]:
        view = await self.peer.aio.messages(int(chat))
        return [
            BotMessage(
                id=str(mid),
                chat=chat,
                text=m["text"] or "",
                edits=m["edits"],
                thread=str(m["thread"] or ""),
                buttons=tuple(b["text"] for b in _buttons(m)),
            )
            for mid, m in sorted(view.items())
        ]

    async def typing_seen(self, chat: str) -> bool:
        return bool(await self.peer.aio.sent(int(chat), method="sendChatAction"))


def _buttons(message: dict) -> list[dict]:
    markup = message.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [b for row in markup.get("inline_keyboard", []) for b in row]
