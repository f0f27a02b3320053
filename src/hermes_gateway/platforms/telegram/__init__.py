"""Telegram through python-telegram-bot's `Bot` (not `Application`): we own the poll loop so an
update is acknowledged (the next getUpdates offset) only once it is durable in our inbox.

    adapter.py   the Adapter: connect / disconnect / send / edit / typing, callback buttons
    polling.py   building the Bot, the long-poll loop and its connection health
    convert.py   Update -> InboundMessage, group addressing, forum topics
    files.py     downloads into the cache (with a size limit) and uploads
    webhook.py   webhook mode (an aiohttp server that checks Telegram's secret header)

This module holds the adapter's options, read from `PlatformSettings.extra`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hermes_gateway.config.secrets import redact
from hermes_gateway.platforms.extra import ExtraReader

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
AUTH_FAILED = (
    "TELEGRAM_BOT_TOKEN was rejected by Telegram (401). Check the token from @BotFather, "
    "then restart the gateway."
)
NOT_FOUND = (
    "Telegram answered 404 Not Found at platforms.telegram.extra.base_url: check that address "
    "(it ends in /bot) and the format of TELEGRAM_BOT_TOKEN, then restart the gateway."
)


def rejection(exc: Exception) -> str:
    """What to tell the user when PTB raises InvalidToken (it does so for 401 and for 404)."""
    return NOT_FOUND if "not found" in str(exc).lower() else AUTH_FAILED


@dataclass(frozen=True)
class TelegramOptions:
    token: str
    base_url: str = DEFAULT_BASE_URL
    base_file_url: str = DEFAULT_BASE_FILE_URL
    require_mention: bool = True
    max_file_mb: float = 20.0
    long_poll_timeout: float = 25.0
    # A getUpdates that has not answered within long_poll_timeout + stall_grace is dead.
    stall_grace: float = 10.0
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8443
    # Telegram's documented limits: about one message a second per chat (short bursts are
    # tolerated) and about 30 a second overall. 0 turns a limit off (429s are still honoured).
    per_chat_rate: float = 1.0
    global_rate: float = 25.0

    def __repr__(self) -> str:  # never show the token or the webhook secret
        return f"TelegramOptions(base_url={self.base_url!r}, webhook_url={self.webhook_url!r})"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def options_from_settings(settings: Any) -> TelegramOptions:
    """Options from a PlatformSettings (`token` + the `extra` mapping); ValueError names the key."""
    read = ExtraReader("telegram", getattr(settings, "extra", None))
    token = (getattr(settings, "token", "") or "").strip()
    if not token:
        raise ValueError(
            "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather, put its token in "
            "~/.hermes/.env as TELEGRAM_BOT_TOKEN=…, then restart the gateway."
        )
    base_url = read.text("base_url", DEFAULT_BASE_URL)
    return TelegramOptions(
        token=token,
        base_url=base_url.rstrip("/"),
        base_file_url=read.text("base_file_url", _file_url_for(base_url)).rstrip("/"),
        require_mention=read.flag("require_mention", True),
        max_file_mb=read.number("max_file_mb", 20.0),
        long_poll_timeout=read.number("long_poll_timeout", 25.0),
        stall_grace=read.number("stall_grace", 10.0, low=0.1),
        webhook_url=read.text("webhook_url"),
        webhook_secret=read.text("webhook_secret"),
        webhook_host=read.text("webhook_host", "127.0.0.1"),
        webhook_port=int(read.number("webhook_port", 8443)),
        per_chat_rate=read.number("per_chat_rate", 1.0),
        global_rate=read.number("global_rate", 25.0),
    )


def _file_url_for(base_url: str) -> str:
    # A self-hosted Bot API server serves files at <root>/file/bot<token>/<path>, like the cloud.
    root = base_url.rstrip("/")
    if root.endswith("/bot"):
        return root[: -len("/bot")] + "/file/bot"
    return DEFAULT_BASE_FILE_URL


# Loggers that print Bot API URLs (which contain the token) or request parameters (which
# contain the webhook secret): python-telegram-bot's at DEBUG, httpx's at INFO.
_NOISY_LOGGERS = (
    "telegram.Bot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "httpx",
)


class _SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = redact(text, *self.secrets)
        if cleaned != text:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _SecretFilter()


def protect_logs(*secrets: str) -> None:
    """Redact these secrets from the libraries' log lines (before the Bot logs its URL)."""
    _FILTER.secrets.update(s for s in secrets if s)
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
