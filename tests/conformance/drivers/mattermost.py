"""Mattermost through the loopback REST v4 + websocket peer (tests/peers/mattermost_peer.py)."""

from __future__ import annotations

from collections.abc import Sequence

from tests.conformance.driver import BotMessage, Features, PeerProcessDriver, Users
from tests.peers.mattermost_fixtures import (
    BOT,
    TOWN,
    MattermostPeerHandle,
    dm_id,
    mattermost_env,
    start_mattermost_peer,
    user_id,
)

NAMES = {user_id(n): n for n in ("alice", "bob", "stranger")}


class Driver(PeerProcessDriver):
    platform = "mattermost"
    features = Features(groups=True, mentions=True, restart=True)
    users = Users(alice=user_id("alice"), bob=user_id("bob"), stranger=user_id("stranger"))
    group = TOWN

    peer: MattermostPeerHandle
    start_peer = staticmethod(start_mattermost_peer)

    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        return mattermost_env(self.peer, list(allowed))

    def bad_credentials_env(self) -> dict[str, str]:
        return {**self.env([self.users.alice]), "MATTERMOST_TOKEN": "wrong-token-abcdefgh"}

    def dm(self, user: str) -> str:
        return dm_id(NAMES[user])

    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        if mention:
            text = f"@{BOT} {text}"
        await self.peer.post(NAMES[user], chat or self.dm(user), text, root_id=thread)

    async def new_thread(self, user: str) -> str:
        root = await self.peer.post(NAMES[user], TOWN, "a thread about something")
        return root["id"]

    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        # Mattermost's clients run "/…" as a server slash command: people write "@bot /approve".
        text = f"@{BOT} /approve" if choice == "once" else f"@{BOT} /deny"
        await self.peer.post(NAMES[user], prompt.chat, text, root_id=prompt.thread)

    async def send_malformed(self) -> None:
        await self.peer.call("POST", "/_peer/malformed")

    async def restart(self) -> None:
        await self.peer.call("POST", "/_peer/restart", json={"seconds": 1.0})

    async def bot_messages(self, chat: str) -> list[BotMessage]:
        return [
            BotMessage(
                id=p["id"], chat=chat, text=p["message"], edits=p["edits"], thread=p["root_id"]
            )
            for p in await self.peer.bot_posts(chat)
        ]

    async def typing_seen(self, chat: str) -> bool:
        seen = await self.peer.call("GET", "/_peer/typing")
        return any(t["channel_id"] == chat for t in seen)
