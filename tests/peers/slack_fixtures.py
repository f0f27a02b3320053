"""The loopback Slack peer, seen from a test: the ``slack_peer`` fixture and an async client
for its control endpoints (tests share their event loop with the adapter, so every call is
awaitable and never blocks the loop that must produce what it waits for).

    await peer.message("U0ALICE", "D0ALICE", "hi")          # alice DMs the bot
    [sent] = await peer.wait(1, method="chat.postMessage")"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.peers.fixtures import Peer, shared_peer, start_peer

BOT_TOKEN = "xoxb-1111-2222-peerbottoken"
APP_TOKEN = "xapp-1-A0APP-3333-peerapptoken"
ALICE, BOB, STRANGER = "U0ALICE", "U0BOB", "U0STRANGER"
DMS = {ALICE: "D0ALICE", BOB: "D0BOB", STRANGER: "D0STRANGER"}
GENERAL = "C0GENERAL"
BOT_USER = "U0BOT"
HTTP_TIMEOUT = 10.0


def shared_file(name: str, data: bytes, mimetype: str, *, size: int | None = None) -> dict:
    """A file for `message(..., files=[...])`; `size` is what the event claims, if not len."""
    spec = {"name": name, "mimetype": mimetype, "content": base64.b64encode(data).decode()}
    if size is not None:
        spec["size"] = size
    return spec


class SlackPeerHandle:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.url = peer.url
        self.api_url = f"{peer.url}/api/"
        self.bot_token, self.app_token = BOT_TOKEN, APP_TOKEN

    def env(self, allowed: str = f"{ALICE},{BOB}", **extra: str) -> dict[str, str]:
        """The gateway's environment for this peer: SLACK_* only."""
        env = {
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_APP_TOKEN": self.app_token,
            "SLACK_API_URL": self.api_url,
        }
        if allowed:
            env["SLACK_ALLOWED_USERS"] = allowed
        env.update({f"SLACK_{k.upper()}": v for k, v in extra.items()})
        return env

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: dict | None = None,
        timeout: float = HTTP_TIMEOUT,
    ) -> Any:  # fmt: skip
        async with httpx.AsyncClient(
            base_url=self.url, timeout=timeout, trust_env=False, verify=False
        ) as http:
            response = await http.request(method, path, json=json, params=params)
        if response.is_error:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    # -- what users do ------------------------------------------------------------------------
    async def message(
        self, user: str, channel: str, text: str, *, thread_ts: str = "", mention: bool = False,
        **fields: Any,
    ) -> dict:  # fmt: skip
        body = {"user": user, "channel": channel, "text": text, "mention": mention, **fields}
        if thread_ts:
            body["thread_ts"] = thread_ts
        return await self._call("POST", "/_peer/message", json=body)

    async def press(
        self, user: str, channel: str, ts: str, *, label: str = "", value: str = ""
    ) -> dict:
        body = {"user": user, "channel": channel, "ts": ts, "label": label, "value": value}
        return await self._call("POST", "/_peer/press", json=body)

    async def slash(self, user: str, channel: str, text: str) -> dict:
        body = {"user": user, "channel": channel, "text": text}
        return await self._call("POST", "/_peer/slash", json=body)

    async def envelope(self, kind: str, payload: Any) -> dict:
        return await self._call("POST", "/_peer/envelope", json={"type": kind, "payload": payload})

    # -- what the server does -----------------------------------------------------------------
    async def restart(self, seconds: float = 1.0) -> dict:
        return await self._call("POST", "/_peer/restart", json={"seconds": seconds})

    async def cut(self) -> dict:
        return await self._call("POST", "/_peer/cut", json={})

    async def refresh(self) -> dict:
        return await self._call("POST", "/_peer/refresh", json={})

    async def fail(self, method: str, error: str, **rule: Any) -> dict:
        return await self._call(
            "POST", "/_peer/fail", json={"method": method, "error": error, **rule}
        )

    async def reset(self) -> dict:
        return await self._call("POST", "/_peer/reset", json={})

    # -- what the test observes ---------------------------------------------------------------
    async def messages(self, channel: str) -> list[dict]:
        return await self._call("GET", "/_peer/messages", params={"channel": channel})

    async def ops(self, method: str = "", since: int = 0, channel: str = "") -> list[dict]:
        params: dict[str, Any] = {"since": since}
        if method:
            params["method"] = method
        if channel:
            params["channel"] = channel
        return await self._call("GET", "/_peer/ops", params=params)

    async def wait(
        self, count: int, *, method: str = "", since: int = 0, channel: str = "",
        timeout: float = 10.0,
    ) -> list[dict]:  # fmt: skip
        params: dict[str, Any] = {"count": count, "since": since, "timeout": timeout}
        if method:
            params["method"] = method
        if channel:
            params["channel"] = channel
        found = await self._call(
            "GET", "/_peer/wait", params=params, timeout=timeout + HTTP_TIMEOUT
        )
        if len(found) < count:
            seen = [(op["method"], op.get("message", {}).get("text")) for op in found]
            raise TimeoutError(f"{len(found)} of {count} bot calls within {timeout:g} s: {seen}")
        return found

    async def downloads(self) -> list[dict]:
        """Every GET of a person's file: {file_id, authorized, status}."""
        return await self._call("GET", "/_peer/downloads")

    async def stats(self) -> dict:
        return await self._call("GET", "/_peer/stats")

    def close(self) -> None:
        self.peer.stop()

    def __repr__(self) -> str:
        return f"SlackPeerHandle(url={self.url!r}, pid={self.peer.pid})"


def start_slack_peer() -> SlackPeerHandle:
    peer = start_peer("tests.peers.slack_peer", "--bot-token", BOT_TOKEN, "--app-token", APP_TOKEN)
    return SlackPeerHandle(peer)


@pytest.fixture(name="slack_peer")
async def slack_peer_fixture(request: pytest.FixtureRequest) -> SlackPeerHandle:
    """One peer process per test session, reset before each test."""
    handle = shared_peer(request, "slack", start_slack_peer)
    await handle.reset()
    return handle
