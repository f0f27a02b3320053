"""Conversions between Slack's payloads and ours, as pure functions (Block Kit is blocks.py's).

In: a `message` / `app_mention` event (with the files shared with it) or a `/hermes` slash command -> InboundMessage (DM or
channel, the mention rule, which thread a reply goes to). Out: Web API errors as SendResults."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from hermes_gateway.config.secrets import redact
from hermes_gateway.core.types import (
    ChatType,
    InboundMessage,
    MessageKind,
    Platform,
    SendResult,
    SessionSource,
)

from . import AUTH_ERRORS
from .files import SlackFile, file_refs

# Subtypes that are still a person's new message; the rest (message_changed, message_deleted,
# bot_message, channel_join, ...) are not answered.
_USER_SUBTYPES = frozenset({"", "thread_broadcast", "file_share", "me_message"})
_ANGLE = re.compile(r"<([^<>\n]+)>")
_GONE_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "user_not_found",
    }
)
_TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


class MalformedEvent(ValueError):
    """A payload of the right kind whose fields are missing or of the wrong type."""


@dataclass(frozen=True)
class BotIdentity:
    user_id: str  # the bot user's id (U…), what a mention <@U…> names
    bot_id: str = ""  # B…, set on everything the bot posts
    name: str = ""


@dataclass(frozen=True)
class SlackMessage:
    """The fields of a person's new message that we use, checked."""

    channel: str
    user: str
    ts: str
    text: str
    thread_ts: str = ""
    channel_type: str = ""
    mentioned: bool = False  # an app_mention event, or <@bot> in the text
    in_bot_thread: bool = False  # a reply in a thread whose first message is the bot's
    files: tuple[SlackFile, ...] = ()  # shared with it, not downloaded yet

    @property
    def is_dm(self) -> bool:
        return self.channel_type == "im" or (not self.channel_type and self.channel[:1] == "D")


def parse_message_event(event: Any, bot: BotIdentity) -> SlackMessage | None:
    """The message in a `message` or `app_mention` event; None for what is not answered (our
    own posts, other bots, edits, joins). Raises MalformedEvent for a broken event."""
    if not isinstance(event, dict):
        raise MalformedEvent("the event is not an object")
    kind = event.get("type")
    if kind not in ("message", "app_mention"):
        return None
    subtype = event.get("subtype") or ""
    if not isinstance(subtype, str):
        raise MalformedEvent("subtype is not a string")
    if subtype not in _USER_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
        return None
    channel, user, ts = event.get("channel"), event.get("user"), event.get("ts")
    text = event.get("text", "")
    for name, value in (("channel", channel), ("user", user), ("ts", ts)):
        if not isinstance(value, str) or not value:
            raise MalformedEvent(f"{name} is missing or not a string")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise MalformedEvent("text is not a string")
    if user == bot.user_id:
        return None
    thread_ts = event.get("thread_ts") or ""
    channel_type = event.get("channel_type") or ""
    if not isinstance(thread_ts, str) or not isinstance(channel_type, str):
        raise MalformedEvent("thread_ts or channel_type is not a string")
    mentioned = kind == "app_mention" or _mention_token(bot.user_id) in text
    in_bot_thread = bool(thread_ts) and event.get("parent_user_id") == bot.user_id
    return SlackMessage(
        channel, user, ts, text, thread_ts, channel_type, mentioned, in_bot_thread,
        file_refs(event),
    )  # fmt: skip


def to_inbound(
    msg: SlackMessage,
    bot: BotIdentity,
    *,
    require_mention: bool,
    reply_in_thread: bool,
    followed: Container[str],
) -> InboundMessage:
    """Our message for a person's Slack message. In a channel, the reply goes to the thread
    the message is in, or starts one on it; a thread the bot already speaks in (`followed`)
    needs no new mention, nor does one the bot started (a cron result, a notice)."""
    # "@Hermes /approve" is how people type a command: Slack keeps a leading "/" for itself.
    text = _strip_leading_mention(msg.text, bot.user_id)
    if msg.is_dm:
        chat_type, thread_id, addressed = ChatType.DM, msg.thread_ts, True
    else:
        chat_type = ChatType.GROUP
        thread_id = msg.thread_ts or (msg.ts if reply_in_thread else "")
        addressed = (
            not require_mention or msg.mentioned or msg.in_bot_thread or msg.thread_ts in followed
        )
    source = SessionSource(
        platform=Platform.SLACK,
        chat_id=msg.channel,
        chat_type=chat_type,
        user_id=msg.user,
        thread_id=thread_id,
    )
    return InboundMessage(
        source=source,
        message_id=msg.ts,
        text=plain_from_slack(text).strip(),
        kind=msg.files[0].kind or MessageKind.DOCUMENT if msg.files else MessageKind.TEXT,
        reply_to="",
        timestamp=_seconds(msg.ts),
        addressed=addressed,
    )


def plain_from_slack(text: str) -> str:
    """Slack's markup as the text a person meant: <@U1|ann> -> @ann, <url|label> -> label
    (url), <#C1|general> -> #general, <!here> -> @here; &amp; &lt; &gt; unescaped."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        if label and label != target and label != target.removeprefix("mailto:"):
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    converted = _ANGLE.sub(one, text)
    return converted.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _mention_token(user_id: str) -> str:
    return f"<@{user_id}" if user_id else "\0"


def _strip_leading_mention(text: str, user_id: str) -> str:
    """ "<@BOT> hi" -> "hi", so that "<@BOT> /status" is the /status command."""
    if not user_id:
        return text
    pattern = rf"^\s*<@{re.escape(user_id)}(?:\|[^>]*)?>[\s,:]*"
    return re.sub(pattern, "", text, count=1)


def _seconds(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        raise MalformedEvent("ts is not a Slack timestamp") from None


# -- the slash command ----------------------------------------------------------------------
SLASH_PREFIX = "slash:"  # message ids of slash commands, which have no message of their own


def slash_to_inbound(payload: Any, commands: Container[str]) -> InboundMessage:
    """`/hermes status` -> the /status command, `/hermes what now?` -> a prompt. A slash
    command has no message to thread on: it speaks for the DM or the channel's main timeline."""
    if not isinstance(payload, dict):
        raise MalformedEvent("the payload is not an object")
    fields = [payload.get(k) for k in ("channel_id", "user_id", "trigger_id")]
    text = payload.get("text") or ""
    if not all(isinstance(f, str) and f for f in fields) or not isinstance(text, str):
        raise MalformedEvent("channel_id, user_id, trigger_id or text is missing")
    channel, user, trigger = fields
    words = text.strip().split(maxsplit=1)
    first = words[0].lstrip("/").lower() if words else "help"
    if first in commands:
        text = "/" + " ".join([first, *words[1:]])
    dm = channel[:1] == "D"
    name = payload.get("channel_name")
    source = SessionSource(
        platform=Platform.SLACK,
        chat_id=channel,
        chat_type=ChatType.DM if dm else ChatType.GROUP,
        user_id=user,
        user_name=str(payload.get("user_name") or ""),
        chat_name=f"#{name}" if name and not dm else "",
    )
    return InboundMessage(
        source=source, message_id=SLASH_PREFIX + trigger, text=plain_from_slack(text).strip()
    )


# -- errors --------------------------------------------------------------------------------


def result_from_error(exc: BaseException, *secrets: str) -> SendResult:
    """A failed Web API call as a SendResult the delivery layer can act on."""
    response = getattr(exc, "response", None)
    if response is None:  # no answer: aiohttp or a timeout
        error = redact(str(exc) or type(exc).__name__, *secrets)
        timeout = isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__
        return SendResult(ok=False, error=error, retryable=not timeout)
    code = str(_get(response, "error") or "unknown_error")
    status = getattr(response, "status_code", 200)
    error = f"Slack answered {code}"
    if status == 429 or code == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        return SendResult(ok=False, error=error, retry_after=_retry_after(headers))
    if code in AUTH_ERRORS:
        return SendResult(ok=False, error=error, retryable=False, kind="auth")
    if code in _GONE_ERRORS:
        return SendResult(ok=False, error=error, retryable=False, kind="not_found")
    if code == "msg_too_long":
        return SendResult(ok=False, error=error, retryable=False, kind="too_long")
    if code.startswith("invalid_blocks"):
        return SendResult(ok=False, error=error, retryable=False, kind="format")
    return SendResult(ok=False, error=error, retryable=code in _TRANSIENT_ERRORS or status >= 500)


def _get(response: Any, key: str) -> Any:
    try:
        return response.get(key)
    except Exception:
        return None


def _retry_after(headers: Any) -> float:
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name) if hasattr(headers, "get") else None
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return 1.0
