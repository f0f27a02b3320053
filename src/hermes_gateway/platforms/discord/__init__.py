"""Discord through discord.py: the gateway websocket for events, REST for everything we send.

    adapter.py    the Adapter: connect / disconnect / send / edit / typing, inbound queue
    client.py     discord.Client with our REST base and gateway URL, and crash-proof parsers
    convert.py    Message / Interaction -> InboundMessage, mentions, threads; buttons, commands
    errors.py     discord.py exceptions as SendResults and as connect() failures
    files.py      attachments: downloads into the cache (size limit), multipart uploads
    reactions.py  👀 / ✅ / ❌ on the user's message while a turn runs (from engine events)
    roles.py      DISCORD_ALLOWED_ROLES: which users a role lets in

This module holds the adapter's options, read from `PlatformSettings.extra`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hermes_gateway.platforms.extra import ExtraReader

DEFAULT_API_BASE = "https://discord.com/api/v10"


@dataclass(frozen=True)
class DiscordOptions:
    token: str
    # REST root including the version, e.g. https://discord.com/api/v10 (a self-hosted or test
    # server: http://127.0.0.1:8080/api/v10).
    api_base: str = DEFAULT_API_BASE
    # The gateway websocket. "" = discord.py's default (wss://gateway.discord.gg) with the real
    # API, or the URL GET /gateway/bot names when api_base points elsewhere.
    gateway_url: str = ""
    require_mention: bool = True
    auto_thread: bool = False
    reactions: bool = True
    sync_commands: bool = True
    allowed_roles: frozenset[str] = frozenset()
    # Discord allows 5 messages per 5 s per channel and 50 requests a second per bot.
    per_chat_rate: float = 1.0
    global_rate: float = 40.0
    # Seconds connect() waits for the first READY before it returns (the client keeps trying).
    ready_timeout: float = 10.0
    # Inbound attachments larger than this are not downloaded (the text says so instead).
    max_file_mb: float = 25.0

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def __repr__(self) -> str:  # never show the token
        return f"DiscordOptions(api_base={self.api_base!r}, gateway_url={self.gateway_url!r})"


def options_from_settings(settings: Any) -> DiscordOptions:
    """Options from a PlatformSettings (`token` + the `extra` mapping); ValueError names the key."""
    extra = ExtraReader("discord", getattr(settings, "extra", None))
    token = (getattr(settings, "token", "") or "").strip()
    if not token:
        raise ValueError(
            "DISCORD_BOT_TOKEN is not set. Create an application and its bot at "
            "https://discord.com/developers/applications, put the bot's token in ~/.hermes/.env "
            "as DISCORD_BOT_TOKEN=…, then restart the gateway."
        )
    return DiscordOptions(
        token=token,
        api_base=extra.url("api_base", DEFAULT_API_BASE),
        gateway_url=extra.url("gateway_url", "", schemes=("ws", "wss")),
        require_mention=extra.flag("require_mention", True),
        auto_thread=extra.flag("auto_thread", False),
        reactions=extra.flag("reactions", True),
        sync_commands=extra.flag("sync_commands", True),
        allowed_roles=_ids(extra, "allowed_roles"),
        per_chat_rate=extra.number("per_chat_rate", 1.0),
        global_rate=extra.number("global_rate", 40.0),
        ready_timeout=extra.number("ready_timeout", 10.0, low=0.1),
        max_file_mb=extra.number("max_file_mb", 25.0),
    )


def _ids(extra: ExtraReader, key: str) -> frozenset[str]:
    """Snowflakes from "1, 2" or a YAML list; anything else names the setting."""
    value = extra.extra.get(key)
    if value is None or value == "":
        return frozenset()
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    ids = frozenset(str(item).strip() for item in items if str(item).strip())
    bad = sorted(i for i in ids if not i.isdigit())
    if bad:
        raise ValueError(
            f"{extra.name(key)} must list numeric role ids (Developer Mode: right-click the "
            f"role → Copy Role ID), not {bad[0]!r}"
        )
    return ids
