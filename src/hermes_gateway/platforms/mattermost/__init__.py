"""Mattermost through its REST API v4 and websocket, with a small aiohttp client of our own
(no maintained asyncio client exists on PyPI).

    adapter.py   the Adapter: connect / disconnect / send / edit / typing, reactions
    client.py    REST v4 calls (Bearer token) and their errors
    events.py    the websocket: authentication, "posted" events, reconnect with backoff,
                 and the catch-up of posts missed while away
    convert.py   posts -> InboundMessage (channel types, mentions, threads via root_id)

This module holds the adapter's options, read from `PlatformSettings` (token + extra)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hermes_gateway.platforms.extra import ExtraReader

MAX_POST_LENGTH = 16383  # Mattermost's post limit (runes) since 5.0


def auth_failed(status: int, url: str) -> str:
    return (
        f"MATTERMOST_TOKEN was rejected by Mattermost at {url} ({status}). Create a bot account "
        "(System Console > Integrations > Bot Accounts) or a personal access token, put it in "
        "~/.hermes/.env as MATTERMOST_TOKEN=…, then restart the gateway."
    )


@dataclass(frozen=True)
class MattermostOptions:
    url: str  # the server's root, e.g. https://chat.example.com
    token: str
    ws_url: str
    require_mention: bool = True
    processing_reaction: bool = True
    max_file_mb: float = 50.0
    # Mattermost's rate limiter (when the admin turns it on) allows 10 requests a second.
    per_chat_rate: float = 0.0
    global_rate: float = 10.0

    def __repr__(self) -> str:  # never show the token
        return f"MattermostOptions(url={self.url!r}, ws_url={self.ws_url!r})"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v4"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def options_from_settings(settings: Any) -> MattermostOptions:
    """Options from a PlatformSettings; ValueError with a one-line message naming the setting."""
    read = ExtraReader("mattermost", getattr(settings, "extra", None))
    url = read.url("url")
    if not url:
        raise ValueError(
            "MATTERMOST_URL is not set: put your server's address (e.g. "
            "https://chat.example.com) in ~/.hermes/.env, then restart the gateway."
        )
    token = (getattr(settings, "token", "") or "").strip()
    if not token:
        raise ValueError(
            "MATTERMOST_TOKEN is not set. Create a bot account (System Console > Integrations "
            "> Bot Accounts), put its token in ~/.hermes/.env as MATTERMOST_TOKEN=…, then "
            "restart the gateway."
        )
    default_ws = "ws" + url[len("http") :] + "/api/v4/websocket"
    return MattermostOptions(
        url=url,
        token=token,
        ws_url=read.url("ws_url", default_ws, schemes=("ws", "wss")),
        require_mention=read.flag("require_mention", True),
        processing_reaction=read.flag("processing_reaction", True),
        max_file_mb=read.number("max_file_mb", 50.0),
        per_chat_rate=read.number("per_chat_rate", 0.0),
        global_rate=read.number("global_rate", 10.0),
    )
