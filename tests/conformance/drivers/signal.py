"""Signal through the loopback signal-cli HTTP daemon peer (tests/peers/signal_peer.py)."""

from __future__ import annotations

from collections.abc import Sequence

from tests.conformance.driver import BotMessage, Features, PeerProcessDriver, Users
from tests.peers.signal_fixtures import (
    ACCOUNT,
    GROUP,
    USERS,
    SignalPeerHandle,
    signal_env,
    start_signal_peer,
)

NAMES = {number: name for name, number in USERS.items()}


class Driver(PeerProcessDriver):
    platform = "signal"
    features = Features(groups=True, mentions=True, restart=True)
    users = Users(alice=USERS["alice"], bob=USERS["bob"], stranger=USERS["stranger"])
    group = GROUP

    peer: SignalPeerHandle
    start_peer = staticmethod(start_signal_peer)

    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        return signal_env(self.peer, list(allowed))

    def bad_credentials_env(self) -> dict[str, str]:
        # Signal has no token: the credential is the account signal-cli is registered with.
        return {**self.env([self.users.alice]), "SIGNAL_ACCOUNT": "+15559999999"}

    def dm(self, user: str) -> str:
        return user  # a DM's chat id is the user's number

    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        group = bool(chat) and chat == GROUP
        await self.peer.message(NAMES[user], text, group=group, mention=mention)

    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        text = "/approve" if choice == "once" else "/deny"
        await self.send(user, text, chat=prompt.chat, mention=prompt.chat == GROUP)

    async def send_malformed(self) -> None:
        await self.peer.call("POST", "/_peer/malformed")

    async def restart(self) -> None:
        await self.peer.call("POST", "/_peer/restart", json={"seconds": 1.0})

    async def bot_messages(self, chat: str) -> list[BotMessage]:
        return [
            BotMessage(id=f"{ACCOUNT}:{s['timestamp']}", chat=chat, text=s["text"])
            for s in await self.peer.sent(chat)
        ]

    async def typing_seen(self, chat: str) -> bool:
        seen = await self.peer.call("GET", "/_peer/typing")
        return any(t["chat"] == chat for t in seen)
