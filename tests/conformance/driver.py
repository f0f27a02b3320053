"""What the conformance suite needs from a platform: a loopback peer it can drive like a user.

Each platform implements `PlatformDriver` in tests/conformance/drivers/<platform>.py (class name
`Driver`). The suite (tests/test_conformance.py) runs every behaviour against every driver through
the real engine and the real adapter; a behaviour the platform lacks (see `Features`) is skipped
with the reason. Conversations and users are plain strings in the platform's own id format.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

WAIT = 15.0  # upper bound for anything to arrive on a loaded machine; never a speed assertion


@dataclass(frozen=True)
class Features:
    """What the platform has, beyond the adapter's Capabilities (max_length, can_edit, typing,
    threads and buttons are read from the adapter class itself)."""

    groups: bool = True  # group chats / channels exist
    mentions: bool = True  # the bot answers in groups only when mentioned
    # The peer can restart (or drop every connection for a while) keeping its state.
    restart: bool = True


@dataclass
class BotMessage:
    """A message the bot posted, as the peer holds it now (after every edit)."""

    id: str
    chat: str
    text: str
    edits: int = 0
    thread: str = ""  # the thread / reply root it was posted in, "" for the main timeline
    buttons: tuple[str, ...] = ()  # labels of attached buttons, in order


@dataclass
class Users:
    alice: str  # allowed
    bob: str  # allowed
    stranger: str  # not allowed: DMs get a pairing offer, group messages are ignored


class PlatformDriver(ABC):
    """A running loopback peer for one platform, seen from a test."""

    platform: str  # the Platform value, e.g. "discord"
    features: Features = Features()
    users: Users
    group: str = ""  # a group conversation with alice, bob and the bot in it (if features.groups)

    # -- lifecycle: start() once per test module (on the session's event loop), reset()
    # before every test, stop() at the end. start() may pytest.skip() with the reason when a
    # server it needs is not installed.
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def reset(self) -> None:
        """Forget every message and failure between tests (the peer process may keep running)."""

    # -- configuration --------------------------------------------------------------------
    @abstractmethod
    def env(self, allowed: Sequence[str]) -> dict[str, str]:
        """Environment variables that point the gateway's adapter at this peer, with `allowed`
        as <PLATFORM>_ALLOWED_USERS (no other platform but the console is enabled)."""

    @abstractmethod
    def bad_credentials_env(self) -> dict[str, str]:
        """Like env(), but with credentials the peer rejects."""

    # -- what a user does -------------------------------------------------------------------
    @abstractmethod
    def dm(self, user: str) -> str:
        """The id of `user`'s direct conversation with the bot."""

    @abstractmethod
    async def send(
        self, user: str, text: str, *, chat: str = "", mention: bool = False, thread: str = ""
    ) -> None:
        """`user` posts `text` in `chat` (default: their DM), @-mentioning the bot when
        `mention`, inside `thread` when given (a thread id as BotMessage.thread shows it)."""

    @abstractmethod
    async def resolve_approval(self, user: str, prompt: BotMessage, choice: str) -> None:
        """Answer an approval prompt the bot posted: choice is "once" or "deny". Buttons are
        pressed where the platform has them; otherwise the user replies with /approve, /deny."""

    @abstractmethod
    async def send_malformed(self) -> None:
        """Deliver one inbound event the adapter must log and skip (a payload of the right
        kind with missing or wrong-typed fields), as the real server could."""

    async def new_thread(self, user: str) -> str:
        """Start a thread in `group` as `user` (a forum topic, a thread on a root message...)
        and return its id as BotMessage.thread will show it. Only asked when the adapter's
        capabilities say threads; the suite then sends into it with send(thread=...)."""
        raise NotImplementedError

    async def restart(self) -> None:
        """Restart the peer (or drop every connection and refuse new ones for a moment),
        keeping its state, and return once it serves again. The suite then sends a message
        at once (the adapter may still be in its reconnect backoff) and expects the answer."""
        raise NotImplementedError

    # -- what the test observes -------------------------------------------------------------
    @abstractmethod
    async def bot_messages(self, chat: str) -> list[BotMessage]:
        """Everything the bot has posted in `chat` (threads included), oldest first."""

    async def typing_seen(self, chat: str) -> bool:
        """Whether the bot sent a typing indicator to `chat` (only asked when it can)."""
        return False

    async def wait_messages(
        self,
        chat: str,
        count: int,
        timeout: float = WAIT,
        where: Callable[[BotMessage], bool] = lambda m: True,
    ) -> list[BotMessage]:
        """At least `count` bot messages in `chat` matching `where` (polling, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in await self.bot_messages(chat) if where(m)]
            if len(found) >= count or time.monotonic() > deadline:
                if len(found) < count:
                    raise TimeoutError(f"{len(found)} of {count} bot messages in {chat}: {found}")
                return found
            await asyncio.sleep(0.05)


class PeerProcessDriver(PlatformDriver):
    """A driver whose peer is one loopback process: `start_peer` (a start function from
    tests/peers/*_fixtures.py, as a staticmethod) starts it, stop() ends it by PID, reset()
    clears it through its control API."""

    start_peer: Callable[[], Any]
    peer: Any = None

    async def start(self) -> None:
        self.peer = self.start_peer()

    async def stop(self) -> None:
        if self.peer is not None:
            self.peer.close()

    async def reset(self) -> None:
        await self.peer.reset()
