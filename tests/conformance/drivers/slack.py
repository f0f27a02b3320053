"""Slack through the loopback Web API + Socket Mode peer (tests/peers/slack_peer.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tests.conformance.driver import BotMessage, Features, PeerProcessDriver, Users
from tests.peers.slack_fixtures import (
    ALICE,
    BOB,
    DMS,
    GENERAL,
    STRANGER,
    SlackPeerHandle,
    start_slack_peer,
)

OUTAGE = 1.0  # seconds the restarted peer refuses apps.connections.open
LABELS = {"once": "Allow once", "session": "Allow session", "always": "Always", "deny": "Deny"}


class Driver(PeerProcessDriver):
    platform = "slack"
    features = Features(groups=True, mentions=True, restart=True)
    users = Users(alice=ALICE, bob=BOB, stranger=STRANGER)
    group = GENERAL

    peer: SlackPeerHandle
    start_peer = staticmethod(start_slack_peer)

    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        return self.peer.env(",".join(allowed))

    def bad_credentials_env(self) -> dict[str, str]:
        return {**self.env([ALICE]), "SLACK_BOT_TOKEN": "xoxb-0000-wrong-bot-token"}

    def dm(self, user: str) -> str:
        return DMS[user]

    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        await self.peer.message(user, chat or DMS[user], text, thread_ts=thread, mention=mention)

    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        await self.peer.press(user, prompt.chat, prompt.id, label=LABELS[choice])

    async def send_malformed(self) -> None:
        # A message event whose channel is a number and whose sender is missing.
        event = {"type": "message", "channel": 42, "text": None, "ts": "1.000001"}
        await self.peer.envelope("events_api", {"type": "event_callback", "event": event})

    async def new_thread(self, user: str) -> str:
        root = await self.peer.message(user, GENERAL, "a thread starts here")
        return root["ts"]

    async def restart(self) -> None:
        # Every socket closes and apps.connections.open is refused for OUTAGE seconds; the
        # peer keeps its messages and unacknowledged envelopes.
        await self.peer.restart(OUTAGE)
        await asyncio.sleep(OUTAGE)

    async def bot_messages(self, chat: str) -> list[BotMessage]:
        return [
            BotMessage(
                id=m["ts"],
                chat=chat,
                text=m["text"],
                edits=m["edits"],
                thread=m["thread_ts"],
                buttons=_labels(m),
            )
            for m in await self.peer.messages(chat)
        ]


def _labels(message: dict) -> tuple[str, ...]:
    return tuple(
        element["text"]["text"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements") or []
    )
