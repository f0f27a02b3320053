"""E-mail through real servers: dovecot holds the bot's mailbox (users' mail is APPENDed to it, as
an MTA delivers), an aiosmtpd peer receives the bot's replies (tests/peers/email_fixtures.py).
E-mail has no groups, mentions, edits, typing or buttons: approvals are answered by replying."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.conformance.driver import BotMessage, Features, PlatformDriver, Users
from tests.peers.email_fixtures import EmailWorld, SentMail, mail


class Driver(PlatformDriver):
    platform = "email"
    features = Features(groups=False, mentions=False, restart=True)
    users = Users(alice="alice@example.com", bob="bob@example.com", stranger="stranger@example.net")

    def __init__(self) -> None:
        self.world: EmailWorld | None = None

    async def start(self) -> None:
        try:
            self.world = EmailWorld.start()
        except RuntimeError as exc:
            pytest.skip(f"e-mail needs a real IMAP server: {exc}")

    async def stop(self) -> None:
        if self.world is not None:
            self.world.stop()

    async def reset(self) -> None:
        await self.world.clear()
        self.world.fail_smtp(None)

    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        # Pairing is off for e-mail by default (strangers are ignored); the suite checks the offer.
        return self.world.env(list(allowed), pairing="true")

    def bad_credentials_env(self) -> dict[str, str]:
        return {**self.env([self.users.alice]), "EMAIL_PASSWORD": "not-the-password"}

    def dm(self, user: str) -> str:
        return user  # the chat is the sender's address

    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        # Like a person pressing Reply on the bot's last mail, or writing a new one.
        last = self._last_to(user)
        await self.world.deliver(mail(user, text, reply_to=last, subject="Conformance"))

    def _last_to(self, user: str) -> SentMail | None:
        sent = self.world.sent(user)
        return sent[-1] if sent else None

    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        answer = "/approve" if choice == "once" else "/deny"
        replied = next((m for m in self.world.sent(user) if m.message_id == prompt.id), None)
        await self.world.deliver(mail(user, answer, reply_to=replied))

    async def send_malformed(self) -> None:
        await self.world.deliver(mail(None, "a mail without a sender"))

    async def restart(self) -> None:
        await asyncio.to_thread(self.world.dovecot.restart)

    async def bot_messages(self, chat: str) -> list[BotMessage]:
        return [BotMessage(id=m.message_id, chat=chat, text=m.text) for m in self.world.sent(chat)]
