"""The loopback Mattermost peer, seen from a test: start it, drive it over /_peer/ (async calls,
so a test can await them on the loop the adapter runs on), and the ``mattermost_peer`` fixture."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.peers.fixtures import Peer, shared_peer, start_peer
from tests.peers.mattermost_peer import BOT, TOWN, dm_id, user_id

DEFAULT_TOKEN = "mm-test-token-0123456789"
__all__ = ["BOT", "TOWN", "dm_id", "user_id", "MattermostPeerHandle", "start_mattermost_peer"]


class MattermostPeerHandle:
    def __init__(self, peer: Peer, token: str) -> None:
        self.peer = peer
        self.url = peer.url
        self.token = token

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=30.0, trust_env=False) as http:
            response = await http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    async def post(
        self, user: str, channel: str, message: str, root_id: str = "", file: dict | None = None
    ) -> dict:
        """`user` (a name from USERS, or an id) posts in `channel`; file: name, mime, data."""
        body: dict[str, Any] = {"user": user, "channel": channel, "message": message}
        body["root_id"] = root_id
        if file:
            data = base64.b64encode(file["data"]).decode()
            body["file"] = {"name": file["name"], "mime": file["mime"], "b64": data}
        return await self.call("POST", "/_peer/post", json=body)

    async def bot_posts(self, channel: str) -> list[dict]:
        return await self.call("GET", "/_peer/posts", params={"channel": channel})

    async def reset(self) -> None:
        await self.call("POST", "/_peer/reset")

    def close(self) -> None:
        self.peer.stop()

    def __repr__(self) -> str:
        return f"MattermostPeerHandle(url={self.url!r}, pid={self.peer.pid})"


def start_mattermost_peer(token: str = DEFAULT_TOKEN) -> MattermostPeerHandle:
    return MattermostPeerHandle(start_peer("tests.peers.mattermost_peer", "--token", token), token)


def mattermost_env(handle: MattermostPeerHandle, allowed: list[str]) -> dict[str, str]:
    return {
        "MATTERMOST_URL": handle.url,
        "MATTERMOST_TOKEN": handle.token,
        "MATTERMOST_ALLOWED_USERS": ",".join(allowed),
    }


@pytest.fixture(name="mattermost_peer")
async def mattermost_peer_fixture(request: pytest.FixtureRequest) -> MattermostPeerHandle:
    """One peer process per test session, reset before each test."""
    handle = shared_peer(request, "mattermost", start_mattermost_peer)
    await handle.reset()
    return handle
