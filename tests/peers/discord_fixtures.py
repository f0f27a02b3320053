"""The loopback Discord peer, seen from a test: start it, point the gateway at it, and act as
users through its /_peer control API (async: the code under test shares the test's loop).

    peer = start_discord_peer()
    env = peer.env(allowed=["111"])                 # DISCORD_BOT_TOKEN, DISCORD_API_BASE, ...
    await peer.message("111", peer.dm("111"), "hi") # alice DMs the bot
    [reply] = await peer.wait_messages(peer.dm("111"), 1)
    peer.close()"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from tests.peers.discord_peer import API, DEFAULT_TOKEN
from tests.peers.discord_world import (
    BOT_ID,
    GROUP_ID,
    HELPER_ROLE,
    dm_channel_id,
)
from tests.peers.fixtures import Peer, shared_peer, start_peer

ALICE, BOB, STRANGER, CAROL = "111", "222", "333", "444"  # carol holds HELPER_ROLE
HTTP_TIMEOUT = 10.0
WAIT = 15.0

__all__ = ["ALICE", "BOB", "BOT_ID", "CAROL", "GROUP_ID", "HELPER_ROLE", "STRANGER"]


class DiscordPeerHandle:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.url = peer.url
        self.api_base = f"{peer.url}{API}"
        self.token = DEFAULT_TOKEN

    def env(self, allowed: Sequence[str] = (ALICE, BOB), **extra: str) -> dict[str, str]:
        env = {
            "DISCORD_BOT_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_ALLOWED_USERS": ",".join(allowed),
        }
        env.update({f"DISCORD_{k.upper()}": v for k, v in extra.items()})
        return env

    @staticmethod
    def dm(user: str) -> str:
        return dm_channel_id(user)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        # One short-lived client per call: the handle outlives any single test's event loop.
        async with httpx.AsyncClient(
            base_url=self.url, timeout=HTTP_TIMEOUT, trust_env=False
        ) as http:
            response = await http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    # -- users act ------------------------------------------------------------------------
    async def message(
        self,
        user: str,
        channel: str,
        content: str,
        *,
        mention: bool = False,
        thread: str = "",
        reply_to: str = "",
    ) -> dict:
        body = {"user": user, "channel": channel, "content": content, "mention": mention}
        if thread:
            body["thread"] = thread
        if reply_to:
            body["reply_to"] = reply_to
        return await self.call("POST", "/_peer/message", json=body)

    async def thread(self, user: str, channel: str = GROUP_ID, name: str = "a thread") -> str:
        body = {"user": user, "channel": channel, "name": name}
        return (await self.call("POST", "/_peer/thread", json=body))["id"]

    async def press(self, user: str, message_id: str, custom_id: str) -> str:
        body = {"user": user, "message": message_id, "custom_id": custom_id}
        return (await self.call("POST", "/_peer/press", json=body))["id"]

    async def slash(self, user: str, channel: str, name: str, text: str = "") -> str:
        body = {"user": user, "channel": channel, "name": name, "input": text}
        return (await self.call("POST", "/_peer/slash", json=body))["id"]

    async def raw(self, event: str, data: Any) -> None:
        await self.call("POST", "/_peer/raw", json={"t": event, "d": data})

    async def outage(self, seconds: float) -> None:
        await self.call("POST", "/_peer/outage", json={"seconds": seconds}, timeout=seconds + 10)

    async def fail(self, route: str, status: int = 500, times: int = 1) -> None:
        await self.call(
            "POST", "/_peer/fail", json={"route": route, "status": status, "times": times}
        )

    async def reset(self) -> None:
        await self.call("POST", "/_peer/reset")

    # -- what the bot did -----------------------------------------------------------------
    async def messages(self, channel: str) -> list[dict]:
        return await self.call("GET", "/_peer/messages", params={"channel": channel})

    async def log(self, kind: str = "", since: int = 0) -> list[dict]:
        return await self.call("GET", "/_peer/log", params={"kind": kind, "since": since})

    async def reactions(self, message_id: str) -> list[str]:
        return await self.call("GET", "/_peer/reactions", params={"message": message_id})

    async def state(self) -> dict:
        return await self.call("GET", "/_peer/state")

    async def wait_messages(
        self,
        channel: str,
        count: int,
        where: Callable[[dict], bool] = lambda m: True,
        timeout: float = WAIT,
    ) -> list[dict]:
        return await poll(
            lambda: self.messages(channel),
            lambda found: len(found) >= count,
            timeout,
            f"{count} bot message(s) in {channel}",
            keep=where,
        )

    async def wait_log(self, kind: str, count: int = 1, timeout: float = WAIT) -> list[dict]:
        return await poll(
            lambda: self.log(kind), lambda found: len(found) >= count, timeout, f"{count} {kind}"
        )

    def close(self) -> None:
        self.peer.stop()

    def __repr__(self) -> str:  # no token
        return f"DiscordPeerHandle(url={self.url!r}, pid={self.peer.pid})"


async def poll(fetch, done, timeout: float, what: str, keep=lambda item: True) -> list:
    """Fetch until `done(result)`, bounded by `timeout`; the matching items."""
    deadline = time.monotonic() + timeout
    while True:
        found = [item for item in await fetch() if keep(item)]
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}; have {found}")
        await asyncio.sleep(0.05)


def start_discord_peer() -> DiscordPeerHandle:
    return DiscordPeerHandle(start_peer("tests.peers.discord_peer"))


@pytest.fixture
async def discord_peer(request: pytest.FixtureRequest) -> DiscordPeerHandle:
    """One peer process per test session, reset before each test."""
    handle = shared_peer(request, "discord", start_discord_peer)
    await handle.reset()
    return handle
