"""Slack through slack-sdk: the Web API (AsyncWebClient) to send, Socket Mode (the aiohttp
SocketModeClient) to receive, so the gateway needs no public URL.

    adapter.py   the Adapter: connect / disconnect / send / edit, approval buttons
    socket.py    the Socket Mode link: reconnects with backoff, acks each envelope once handled
    convert.py   Slack events -> InboundMessage (mentions, threads, DMs), errors -> SendResult
    blocks.py    Block Kit: buttons on a message, a press on one, the answered prompt
    names.py     user and channel names (users.info / conversations.info), cached
    files.py     files shared with a message (downloaded with the bot token), uploads

This module holds the adapter's options, read from `PlatformSettings` (`token` is the bot token,
`extra` the rest: SLACK_APP_TOKEN -> extra["app_token"], SLACK_API_URL -> extra["api_url"]).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from hermes_gateway.config.secrets import redact
from hermes_gateway.platforms.extra import ExtraReader

DEFAULT_API_URL = "https://slack.com/api/"
# Web API errors that mean the token itself is refused: never retried.
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive"})


def rejected(setting: str, error: str) -> str:
    """What to tell the user when Slack refuses one of the two tokens."""
    kind = "bot token (xoxb-…)" if setting == "SLACK_BOT_TOKEN" else "app-level token (xapp-…)"
    return (
        f"{setting} was rejected by Slack ({error}): check the {kind} on your app's page at "
        "https://api.slack.com/apps, then restart the gateway."
    )


@dataclass(frozen=True)
class SlackOptions:
    bot_token: str
    app_token: str
    api_url: str = DEFAULT_API_URL
    require_mention: bool = True
    # Top-level channel messages are answered in a thread on them (Slack's convention).
    reply_in_thread: bool = True
    # Slack's documented limits: about one message a second per channel, a few hundred a
    # minute per workspace. 0 turns a limit off (429s are still honoured).
    per_chat_rate: float = 1.0
    global_rate: float = 5.0
    ping_interval: float = 5.0  # seconds between Socket Mode pings (a dead link shows in ~4x)
    # 👀 on a message while the agent works on it (needs the reactions:write scope).
    processing_reaction: bool = True
    max_file_mb: float = 25.0  # files shared with a message larger than this are not fetched

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def __repr__(self) -> str:  # never show a token
        return f"SlackOptions(api_url={self.api_url!r})"


def options_from_settings(settings: Any) -> SlackOptions:
    """Options from a PlatformSettings; ValueError names the setting that is wrong."""
    read = ExtraReader("slack", getattr(settings, "extra", None))
    bot_token = (getattr(settings, "token", "") or "").strip()
    app_token = read.text("app_token")
    if not bot_token:
        raise ValueError(
            "SLACK_BOT_TOKEN is not set. Install your Slack app to the workspace and put its "
            "Bot User OAuth Token (xoxb-…) in ~/.hermes/.env as SLACK_BOT_TOKEN=…, then restart."
        )
    if not app_token:
        raise ValueError(
            "SLACK_APP_TOKEN is not set. Enable Socket Mode for your Slack app, create an "
            "app-level token with connections:write (xapp-…) and put it in ~/.hermes/.env as "
            "SLACK_APP_TOKEN=…, then restart."
        )
    return SlackOptions(
        bot_token=bot_token,
        app_token=app_token,
        api_url=read.url("api_url", DEFAULT_API_URL) + "/",
        require_mention=read.flag("require_mention", True),
        reply_in_thread=read.flag("reply_in_thread", True),
        per_chat_rate=read.number("per_chat_rate", 1.0),
        global_rate=read.number("global_rate", 5.0),
        ping_interval=read.number("ping_interval", 5.0, low=0.1),
        processing_reaction=read.flag("processing_reaction", True),
        max_file_mb=read.number("max_file_mb", 25.0),
    )


# The SDK's logger: at DEBUG it prints Web API answers, among them the websocket address whose
# ticket lets anyone connect as this app for a while.
SDK_LOGGER = "hermes.slack.sdk"
_TICKET = re.compile(r"(ticket=)[^&\s'\"]+")


class _SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = _TICKET.sub(r"\1<redacted>", redact(text, *self.secrets))
        if cleaned != text:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _SecretFilter()


def sdk_logger(*secrets: str) -> logging.Logger:
    """The logger handed to slack-sdk, with tokens and websocket tickets redacted."""
    _FILTER.secrets.update(s for s in secrets if s)
    logger = logging.getLogger(SDK_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
