"""Message types shared by the engine, the adapters and the delivery layer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum


class Platform(StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"
    SLACK = "slack"
    WHATSAPP = "whatsapp"
    SIGNAL = "signal"
    SMS = "sms"
    EMAIL = "email"
    HOMEASSISTANT = "homeassistant"
    MATTERMOST = "mattermost"
    MATRIX = "matrix"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"
    WECOM = "wecom"
    WECOM_CALLBACK = "wecom_callback"
    WEIXIN = "weixin"
    BLUEBUBBLES = "bluebubbles"
    QQBOT = "qqbot"
    API_SERVER = "api_server"
    WEBHOOK = "webhook"
    CONSOLE = "console"

    @property
    def env_prefix(self) -> str:
        """Prefix of this platform's environment variables, e.g. TELEGRAM, WECOM_CALLBACK."""
        return self.value.upper()


class ChatType(StrEnum):
    DM = "dm"
    GROUP = "group"
    CHANNEL = "channel"
    THREAD = "thread"


class MessageKind(StrEnum):
    TEXT = "text"
    PHOTO = "photo"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"


@dataclass(frozen=True)
class SessionSource:
    """Where a message came from; the session key is built from it (sessions.keys)."""

    platform: Platform
    chat_id: str
    chat_type: ChatType = ChatType.DM
    user_id: str = ""
    user_name: str = ""
    thread_id: str = ""
    chat_name: str = ""


@dataclass(frozen=True)
class Attachment:
    path: str
    kind: MessageKind
    mime_type: str = ""
    size: int = 0


@dataclass(frozen=True)
class InboundMessage:
    source: SessionSource
    message_id: str
    text: str
    kind: MessageKind = MessageKind.TEXT
    attachments: tuple[Attachment, ...] = ()
    reply_to: str = ""
    timestamp: float = field(default_factory=time.time)
    # Set by the adapter when the bot was addressed in a group (mention or reply).
    addressed: bool = True


@dataclass(frozen=True)
class OutboundMessage:
    chat_id: str
    text: str  # already rendered for the platform when parse_mode is set
    thread_id: str = ""
    reply_to: str = ""
    attachments: tuple[Attachment, ...] = ()
    # Buttons offered with the message: (label, callback data) pairs.
    buttons: tuple[tuple[str, str], ...] = ()
    # The platform's formatting mode for `text` ("" = plain text), e.g. "HTML" on Telegram.
    parse_mode: str = ""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    message_id: str = ""
    error: str = ""
    retry_after: float | None = None
    # False when the failure may already have delivered (e.g. a read timeout): never retried.
    retryable: bool = True
    # Why it failed, when the delivery layer can act on it: "format" (the platform rejected the
    # formatting: resend as plain text), "not_modified" (an edit with the same text: fine),
    # "auth" (bad token), "not_found" (chat or message gone), "too_long".
    kind: str = ""


@dataclass(frozen=True)
class ButtonPress:
    """A user pressed one of our buttons (e.g. an approval's "Allow once")."""

    platform: Platform
    chat_id: str
    user_id: str
    data: str
    message_id: str = ""
    thread_id: str = ""
    user_name: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do. The delivery layer reads these; nothing branches on platform."""

    max_length: int = 4096
    length_unit: str = "chars"  # "chars" | "utf16" (Telegram counts UTF-16 code units)
    markup: str = "plain"  # how replies are rendered: "plain" | "markdown" | "telegram_html"
    can_edit: bool = False
    typing: bool = False
    threads: bool = False
    reactions: bool = False
    images: bool = False
    files: bool = False
    voice: bool = False
    buttons: bool = False
    # A reply split into several messages says "(1/3)" under each part (platforms where the
    # parts may arrive or show out of order, like Signal).
    numbered_chunks: bool = False
    # Sending limits the delivery layer keeps to (messages per second).
    per_chat_rate: float = 0.0  # 0 = unlimited
    global_rate: float = 0.0


def message_to_payload(message: InboundMessage) -> dict:
    """The inbox's JSON form of a message (replayed after a restart)."""
    s = message.source
    return {
        "source": {
            "platform": s.platform.value,
            "chat_id": s.chat_id,
            "chat_type": s.chat_type.value,
            "user_id": s.user_id,
            "user_name": s.user_name,
            "thread_id": s.thread_id,
            "chat_name": s.chat_name,
        },
        "message_id": message.message_id,
        "text": message.text,
        "kind": message.kind.value,
        "attachments": [
            {"path": a.path, "kind": a.kind.value, "mime_type": a.mime_type, "size": a.size}
            for a in message.attachments
        ],
        "reply_to": message.reply_to,
        "timestamp": message.timestamp,
        "addressed": message.addressed,
    }


def message_from_payload(payload: dict) -> InboundMessage:
    s = payload["source"]
    return InboundMessage(
        source=SessionSource(
            platform=Platform(s["platform"]),
            chat_id=s["chat_id"],
            chat_type=ChatType(s["chat_type"]),
            user_id=s["user_id"],
            user_name=s["user_name"],
            thread_id=s["thread_id"],
            chat_name=s["chat_name"],
        ),
        message_id=payload["message_id"],
        text=payload["text"],
        kind=MessageKind(payload["kind"]),
        attachments=tuple(
            Attachment(a["path"], MessageKind(a["kind"]), a["mime_type"], a["size"])
            for a in payload["attachments"]
        ),
        reply_to=payload["reply_to"],
        timestamp=payload["timestamp"],
        addressed=payload["addressed"],
    )
