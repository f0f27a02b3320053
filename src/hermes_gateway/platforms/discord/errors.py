"""discord.py's exceptions, as SendResults the delivery layer can act on and as the one-line
reasons connect() gives. No text here ever contains the token."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from hermes_gateway.core.types import SendResult

NEXT_STEP = (
    "Copy the token again from https://discord.com/developers/applications (your app → Bot → "
    "Reset Token), put it in ~/.hermes/.env as DISCORD_BOT_TOKEN=…, then restart the gateway."
)
INTENTS = (
    "Discord refused the Message Content intent (close code 4014). Turn on MESSAGE CONTENT "
    "INTENT under your app → Bot → Privileged Gateway Intents, then restart the gateway."
)
TOO_LARGE = (
    "Discord refused the upload as too large ({}); a message may carry up to 10 MB of files "
    "(more in boosted servers)"
)
UNKNOWN_CODES = (10003, 10008, 10013, 50001, 50007)  # unknown channel/message/user, no access


class DiscordAuthError(RuntimeError):
    """The token was rejected; the message says what to do and never contains the token."""


def rejected(detail: str) -> str:
    return f"DISCORD_BOT_TOKEN was rejected by Discord (401 Unauthorized): {detail}. {NEXT_STEP}"


def describe(exc: BaseException, token: str = "") -> str:
    text = str(exc) or type(exc).__name__
    return text.replace(token, "<redacted>") if token else text


def result_from_error(exc: BaseException, token: str = "") -> SendResult:
    """A failed REST call as a SendResult."""
    error = describe(exc, token)
    if isinstance(exc, discord.RateLimited):
        return SendResult(ok=False, error=error, retry_after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        if exc.status == 401:
            return SendResult(ok=False, error=rejected(error), retryable=False, kind="auth")
        if exc.status in (403, 404) or exc.code in UNKNOWN_CODES:
            return SendResult(ok=False, error=error, retryable=False, kind="not_found")
        if exc.status == 413 or exc.code == 40005:
            return SendResult(ok=False, error=TOO_LARGE.format(error), retryable=False)
        if exc.status == 400 and "length" in error.lower():
            return SendResult(ok=False, error=error, retryable=False, kind="too_long")
        if exc.status == 429 or exc.status >= 500:
            return SendResult(ok=False, error=error, retryable=True)
        return SendResult(ok=False, error=error, retryable=False)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):  # it may have gone through
        return SendResult(ok=False, error=error, retryable=False)
    if isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        return SendResult(ok=False, error=error, retryable=True)
    return SendResult(ok=False, error=error, retryable=False)
