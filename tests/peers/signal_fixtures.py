"""The loopback signal-cli peer, seen from a test: start it, drive it over /_peer/ (async calls,
so a test can await them on the loop the adapter runs on), and the ``signal_peer`` fixture."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.peers.fixtures import Peer, shared_peer, start_peer
from tests.peers.signal_peer import ACCOUNT, GROUP_ID, USERS

__all__ = ["ACCOUNT", "GROUP", "USERS", "SignalPeerHandle", "signal_env", "start_signal_peer"]
GROUP = f"group:{GROUP_ID}"  # the group's chat id as the adapter names it


class SignalPeerHandle:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.url = peer.url

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=30.0, trust_env=False) as http:
            response = await http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    async def message(
        self,
        user: str,
        text: str,
        *,
        group: bool = False,
        mention: bool = False,
        quote: int | None = None,
        attachment: tuple[str, str, bytes] | None = None,
    ) -> dict:
        """`user` (alice, bob, stranger) sends `text`; attachment: (filename, type, bytes)."""
        body: dict[str, Any] = {"user": user, "text": text, "group": group, "mention": mention}
        if quote is not None:
            body["quote"] = quote
        if attachment is not None:
            name, kind, data = attachment
            body["attachment"] = {
                "filename": name,
                "contentType": kind,
                "b64": base64.b64encode(data).decode(),
            }
        return await self.call("POST", "/_peer/message", json=body)

    async def sent(self, chat: str | None = None) -> list[dict]:
        return await self.call("GET", "/_peer/sent", params={"chat": chat} if chat else {})

    async def reset(self) -> None:
        await self.call("POST", "/_peer/reset")

    def close(self) -> None:
        self.peer.stop()

    def __repr__(self) -> str:
        return f"SignalPeerHandle(url={self.url!r}, pid={self.peer.pid})"


def start_signal_peer() -> SignalPeerHandle:
    return SignalPeerHandle(start_peer("tests.peers.signal_peer"))


def signal_env(handle: SignalPeerHandle, allowed: list[str]) -> dict[str, str]:
    return {
        "SIGNAL_HTTP_URL": handle.url,
        "SIGNAL_ACCOUNT": ACCOUNT,
        "SIGNAL_ALLOWED_USERS": ",".join(allowed),
    }


@pytest.fixture(name="signal_peer")
async def signal_peer_fixture(request: pytest.FixtureRequest) -> SignalPeerHandle:
    """One peer process per test session, reset before each test."""
    handle = shared_peer(request, "signal", start_signal_peer)
    await handle.reset()
    return handle
