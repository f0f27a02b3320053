"""Conversions between Telegram's objects and ours, as pure functions.

In: Message -> InboundMessage (chat types, group addressing, forum topics, media refs; the
download is files.py's job). Out: chat and thread ids, inline keyboards, the command menu,
and Bot API errors as SendResults the delivery layer can act on."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from hermes_gateway.config.secrets import redact
from hermes_gateway.core.types import (
    ChatType,
    InboundMessage,
    MessageKind,
    Platform,
    SendResult,
    SessionSource,
)

from . import rejection

_CHAT_TYPES = {
    "private": ChatType.DM,
    "group": ChatType.GROUP,
    "supergroup": ChatType.GROUP,
    "channel": ChatType.CHANNEL,
}
_NUMERIC_ID = re.compile(r"-?\d+")
_COMMAND_CHARS = re.compile(r"[^a-z0-9_]")
_ADDRESS_TYPES = (MessageEntity.MENTION, MessageEntity.TEXT_MENTION, MessageEntity.BOT_COMMAND)


@dataclass(frozen=True)
class BotIdentity:
    id: int
    username: str  # without the "@"


@dataclass(frozen=True)
class MediaRef:
    """A file attached to a message, not downloaded yet."""

    file_id: str
    file_unique_id: str
    kind: MessageKind
    mime_type: str = ""
    size: int = 0  # as Telegram reported it; 0 when unknown
    file_name: str = ""


@dataclass(frozen=True)
class Converted:
    message: InboundMessage
    media: MediaRef | None = None


def convert_message(message: Message, bot: BotIdentity, require_mention: bool) -> Converted:
    """The InboundMessage for a (new, not edited) message. Raises on a malformed one."""
    chat = message.chat
    chat_type = _CHAT_TYPES.get(chat.type, ChatType.GROUP)
    user = message.from_user
    user_name = (user.username or user.first_name or "") if user else ""
    thread_id = str(message.message_thread_id) if message.is_topic_message else ""
    text = message.text if message.text is not None else (message.caption or "")
    addressed = True
    if chat_type is not ChatType.DM:
        addressed = (
            not require_mention or _mentions_bot(message, bot) or _replies_to_bot(message, bot)
        )
        text = _strip_address(text, bot.username)
    media = media_of(message)
    source = SessionSource(
        platform=Platform.TELEGRAM,
        chat_id=str(chat.id),
        chat_type=chat_type,
        user_id=str(user.id) if user else "",
        user_name=user_name,
        thread_id=thread_id,
        chat_name=chat.title or chat.full_name or "",
    )
    inbound = InboundMessage(
        source=source,
        message_id=str(message.message_id),
        text=text,
        kind=media.kind if media else MessageKind.TEXT,
        reply_to=_reply_target(message),
        timestamp=message.date.timestamp(),
        addressed=addressed,
    )
    return Converted(inbound, media)


def media_of(message: Message) -> MediaRef | None:
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return MediaRef(
            largest.file_id,
            largest.file_unique_id,
            MessageKind.PHOTO,
            "image/jpeg",
            largest.file_size or 0,
        )
    for item, kind in (
        (message.document, MessageKind.DOCUMENT),
        (message.voice, MessageKind.VOICE),
        (message.audio, MessageKind.AUDIO),
    ):
        if item is not None:
            return MediaRef(
                item.file_id,
                item.file_unique_id,
                kind,
                item.mime_type or "",
                item.file_size or 0,
                getattr(item, "file_name", None) or "",
            )
    return None


def _mentions_bot(message: Message, bot: BotIdentity) -> bool:
    handle = f"@{bot.username}".lower()
    if message.text is not None:
        found = message.parse_entities(list(_ADDRESS_TYPES))
    else:
        found = message.parse_caption_entities(list(_ADDRESS_TYPES))
    for entity, value in found.items():
        if entity.type == MessageEntity.TEXT_MENTION:
            if entity.user is not None and entity.user.id == bot.id:
                return True
        elif entity.type == MessageEntity.MENTION:
            if value.lower() == handle:
                return True
        elif value.lower().endswith(handle):  # /command@our_bot
            return True
    return False


def _replies_to_bot(message: Message, bot: BotIdentity) -> bool:
    replied = message.reply_to_message
    if replied is None or not _is_real_reply(message):
        return False
    return replied.from_user is not None and replied.from_user.id == bot.id


def _is_real_reply(message: Message) -> bool:
    # In a forum topic every message "replies" to the topic's first message; that is not a reply.
    replied = message.reply_to_message
    if replied is None:
        return False
    return not (message.is_topic_message and replied.message_id == message.message_thread_id)


def _reply_target(message: Message) -> str:
    return str(message.reply_to_message.message_id) if _is_real_reply(message) else ""


def _strip_address(text: str, username: str) -> str:
    """Drop a leading "@bot" ("@bot hi" -> "hi") and a command's suffix ("/status@bot")."""
    if not username:
        return text
    name = re.escape(username)
    text = re.sub(rf"^\s*@{name}\b[\s,:]*", "", text, count=1, flags=re.IGNORECASE)
    return re.sub(rf"^(/\w+)@{name}\b", r"\1", text, count=1, flags=re.IGNORECASE)


# -- ours -> Telegram: ids, keyboards, the command menu, and errors as SendResults --------


def result_from_error(exc: BaseException, token: str = "") -> SendResult:
    """A failed Bot API call as a SendResult the delivery layer can act on."""
    error = redact(str(exc) or type(exc).__name__, token)
    if isinstance(exc, RetryAfter):
        return SendResult(ok=False, error=error, retry_after=retry_seconds(exc))
    if isinstance(exc, InvalidToken):
        return SendResult(ok=False, error=rejection(exc), retryable=False, kind="auth")
    if isinstance(exc, (Forbidden, ChatMigrated)):  # blocked, kicked, or the group moved
        return SendResult(ok=False, error=error, retryable=False, kind="not_found")
    if isinstance(exc, BadRequest):
        lowered = error.lower()
        kind = ""
        if "can't parse entities" in lowered or "can't find end of" in lowered:
            kind = "format"
        elif "message is not modified" in lowered:
            kind = "not_modified"
        elif "too long" in lowered:
            kind = "too_long"
        elif "not found" in lowered or "can't be edited" in lowered:
            kind = "not_found"
        return SendResult(ok=False, error=error, retryable=False, kind=kind)
    if isinstance(exc, TimedOut):  # the request may have gone through: never resend
        return SendResult(ok=False, error=error, retryable=False)
    if isinstance(exc, NetworkError):
        return SendResult(ok=False, error=error, retryable=True)
    return SendResult(ok=False, error=error, retryable=False)


def command_menu(entries: list[tuple[str, str]]) -> list[BotCommand]:
    """Telegram's rules: names 1-32 of [a-z0-9_], descriptions 1-256 characters, ≤ 100."""
    commands: list[BotCommand] = []
    seen: set[str] = set()
    for name, description in entries:
        clean = _COMMAND_CHARS.sub("", name.strip().lstrip("/").lower().replace("-", "_"))[:32]
        if not clean or clean in seen:
            continue
        seen.add(clean)
        commands.append(BotCommand(clean, (description or "").strip()[:256] or clean))
    return commands[:100]


def keyboard(buttons: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    keys = [InlineKeyboardButton(label, callback_data=data) for label, data in buttons]
    return InlineKeyboardMarkup([keys[i : i + 2] for i in range(0, len(keys), 2)])


def chat_ref(chat_id: str) -> int | str:
    """Numeric chat ids as ints; "@channelname" stays a string."""
    return int(chat_id) if _NUMERIC_ID.fullmatch(chat_id) else chat_id


def thread_ref(thread_id: str) -> int | None:
    return int(thread_id) if thread_id and thread_id.isdigit() else None


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter's delay in seconds: an int in PTB 22 (with a deprecation warning), a
    timedelta in later versions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return max(0.0, seconds)
