"""Discord through the loopback gateway + REST peer (tests/peers/discord_peer.py)."""

from __future__ import annotations

from collections.abc import Sequence

from tests.conformance.driver import BotMessage, Features, PeerProcessDriver, Users
from tests.peers.discord_fixtures import (
    ALICE,
    BOB,
    GROUP_ID,
    STRANGER,
    DiscordPeerHandle,
    start_discord_peer,
)

OUTAGE = 1.0  # seconds the gateway refuses connections in restart()


class Driver(PeerProcessDriver):
    platform = "discord"
    features = Features(groups=True, mentions=True, restart=True)
    users = Users(alice=ALICE, bob=BOB, stranger=STRANGER)
    group = GROUP_ID

    peer: DiscordPeerHandle
    start_peer = staticmethod(start_discord_peer)

    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        return self.peer.env(allowed)

    def bad_credentials_env(self) -> dict[str, str]:
        return {**self.env([ALICE]), "DISCORD_BOT_TOKEN": "MTk5OTk5.wrong.token-value"}

    def dm(self, user: str) -> str:
        return self.peer.dm(user)

    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        await self.peer.message(user, chat or self.dm(user), text, mention=mention, thread=thread)

    async def new_thread(self, user: str) -> str:
        return await self.peer.thread(user, GROUP_ID)

    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        [shown] = [m for m in await self.peer.messages(prompt.chat) if m["id"] == prompt.id]
        ids = [b["custom_id"] for row in shown["components"] for b in row["components"]]
        await self.peer.press(user, prompt.id, next(i for i in ids if i.endswith(f":{choice}")))

    async def send_malformed(self) -> None:
        # A MESSAGE_CREATE without its author and with a non-numeric channel id.
        await self.peer.raw(
            "MESSAGE_CREATE", {"id": "1", "channel_id": "not-a-channel", "content": 42, "type": 0}
        )

    async def restart(self) -> None:
        await self.peer.outage(OUTAGE)

    async def bot_messages(self, chat: str) -> list[BotMessage]:
        return [
            BotMessage(
                id=m["id"],
                chat=chat,
                text=m["content"],
                edits=m["edits"],
                thread=m["thread"],
                buttons=tuple(b["label"] for row in m["components"] for b in row["components"]),
            )
            for m in await self.peer.messages(chat)
        ]

    async def typing_seen(self, chat: str) -> bool:
        return any(e["channel_id"] == chat for e in await self.peer.log("typing"))
