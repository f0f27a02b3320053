"""Room events (the raw JSON the homeserver relayed) -> InboundMessage, as pure functions.

A room with at most two members (joined or invited) is a DM, any other a group. In a group the
bot is addressed by an m.mentions entry, its user id or display name in the text (Element's
pills), a matrix.to link to it, or a reply to / thread under one of its own messages.

A file (m.image / m.file / m.audio / m.video) carries its name in `body`; only when a separate
`filename` is given is `body` a caption (Matrix 1.10), and then it is the message's text.
media_of() says which file to fetch; the adapter downloads it. The
server relays whatever a client sent, so every field is checked: a bad one raises
MalformedEvent and the caller logs and skips the event."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hermes_gateway.core.types import (
    ChatType,
    InboundMessage,
    MessageKind,
    Platform,
    SessionSource,
)
from hermes_gateway.platforms.downloads import RemoteFile

from .media import parse_mxc

_KINDS = {
    "m.text": MessageKind.TEXT,
    "m.emote": MessageKind.TEXT,
    "m.image": MessageKind.PHOTO,
    "m.file": MessageKind.DOCUMENT,
    "m.audio": MessageKind.AUDIO,
    "m.video": MessageKind.VIDEO,
    "m.location": MessageKind.LOCATION,
}
MEDIA_MSGTYPES = ("m.image", "m.file", "m.audio", "m.video")
VOICE_FLAG = "org.matrix.msc3245.voice"  # Element's voice messages: m.audio with this key
# m.notice is what bots send: never answered, so two bots cannot talk to each other forever.
_IGNORED_MSGTYPES = ("m.notice",)


class MalformedEvent(ValueError):
    """An event of a kind we handle whose fields are missing or of the wrong type."""


@dataclass(frozen=True)
class RoomInfo:
    room_id: str
    members: int  # joined + invited
    name: str = ""

    @property
    def is_dm(self) -> bool:
        return self.members <= 2


@dataclass(frozen=True)
class MediaRef:
    """The file of a media event: `mxc` is "" when there is none we can fetch (an encrypted
    file, or a malformed URL); the download then becomes a note."""

    mxc: str
    file: RemoteFile


@dataclass(frozen=True)
class BotIdentity:
    user_id: str
    display_name: str = ""

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]

    @property
    def names(self) -> tuple[str, ...]:
        """What a person types to address the bot, longest first."""
        found = {self.user_id, self.display_name, self.localpart} - {""}
        return tuple(sorted(found, key=len, reverse=True))


def convert_event(
    event: dict[str, Any],
    room: RoomInfo,
    bot: BotIdentity,
    require_mention: bool,
    sender_name: Callable[[str], str] = lambda user_id: "",
    is_ours: Callable[[str], bool] = lambda event_id: False,
) -> InboundMessage | None:
    """The InboundMessage for a new room message; None for events that are not for us (state,
    reactions, edits, notices, our own messages). Raises MalformedEvent."""
    if not isinstance(event, dict) or event.get("type") != "m.room.message":
        return None
    sender = event.get("sender")
    if not isinstance(sender, str) or not sender.startswith("@"):
        raise MalformedEvent("no sender")
    if sender == bot.user_id:
        return None
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedEvent("no event_id")
    content = event.get("content")
    if not isinstance(content, dict):
        raise MalformedEvent(f"{event_id}: content is not an object")
    if not content:
        return None  # a redacted message
    relation = _relation(content, event_id)
    if relation.get("rel_type") == "m.replace":
        return None  # an edit: the original was already answered
    msgtype, body = content.get("msgtype"), content.get("body")
    if not isinstance(msgtype, str):
        raise MalformedEvent(f"{event_id}: msgtype is not a string")
    if not isinstance(body, str):
        raise MalformedEvent(f"{event_id}: body is not a string")
    if msgtype in _IGNORED_MSGTYPES:
        return None
    thread_id, reply_to = _thread_and_reply(relation, event_id)
    if msgtype in MEDIA_MSGTYPES:
        body = caption(content)
    text = _strip_reply_fallback(body) if reply_to else body
    if msgtype == "m.emote":
        text = f"* {sender_name(sender) or sender} {text}"
    elif msgtype not in ("m.text", "m.notice", *MEDIA_MSGTYPES):  # say what came
        text = f"[{msgtype.removeprefix('m.')}: {text}]"
    addressed = True
    if not room.is_dm:
        addressed = (
            not require_mention
            or mentions_bot({**content, "body": body}, bot)  # a file's name is no mention
            or any(is_ours(target) for target in (reply_to, thread_id) if target)
        )
        text = strip_address(text, bot)
    source = SessionSource(
        platform=Platform.MATRIX,
        chat_id=room.room_id,
        chat_type=ChatType.DM if room.is_dm else ChatType.GROUP,
        user_id=sender,
        user_name=sender_name(sender) or sender,
        thread_id=thread_id,
        chat_name=room.name,
    )
    return InboundMessage(
        source=source,
        message_id=event_id,
        text=text,
        kind=_kind(msgtype, content),
        reply_to=reply_to,
        timestamp=_timestamp(event),
        addressed=addressed,
    )


def caption(content: dict[str, Any]) -> str:
    """A media event's caption: its body when a different `filename` names the file."""
    body, filename = content.get("body"), content.get("filename")
    if isinstance(filename, str) and filename and isinstance(body, str) and body != filename:
        return body
    return ""


def media_of(event: dict[str, Any]) -> MediaRef | None:
    """The file a media message carries (call after convert_event accepted the event)."""
    content = event.get("content") if isinstance(event, dict) else None
    if not isinstance(content, dict) or content.get("msgtype") not in MEDIA_MSGTYPES:
        return None
    info = content.get("info") if isinstance(content.get("info"), dict) else {}
    filename, body = content.get("filename"), content.get("body")
    name = next((n for n in (filename, body) if isinstance(n, str) and n.strip()), "")
    mime = info.get("mimetype") if isinstance(info.get("mimetype"), str) else ""
    size = info.get("size")
    size = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0
    url = content.get("url")
    parts = parse_mxc(url) if isinstance(url, str) else None
    media_id = parts[1] if parts else "unfetchable"
    kind = str(content["msgtype"]).removeprefix("m.")
    remote = RemoteFile(media_id, name.strip() or kind, mime, size)
    return MediaRef(url if parts else "", remote)


def _kind(msgtype: str, content: dict[str, Any]) -> MessageKind:
    if msgtype == "m.audio" and VOICE_FLAG in content:
        return MessageKind.VOICE
    return _KINDS.get(msgtype, MessageKind.TEXT)


def _relation(content: dict[str, Any], event_id: str) -> dict[str, Any]:
    relation = content.get("m.relates_to") or {}
    if not isinstance(relation, dict):
        raise MalformedEvent(f"{event_id}: m.relates_to is not an object")
    return relation


def _thread_and_reply(relation: dict[str, Any], event_id: str) -> tuple[str, str]:
    thread_id = ""
    if relation.get("rel_type") == "m.thread":
        thread_id = relation.get("event_id")
        if not isinstance(thread_id, str) or not thread_id:
            raise MalformedEvent(f"{event_id}: a thread relation without the thread's root")
    reply = relation.get("m.in_reply_to")
    reply_to = reply.get("event_id") if isinstance(reply, dict) else None
    if not isinstance(reply_to, str):
        reply_to = ""
    # In a thread, clients point m.in_reply_to at the latest message "as a fallback" for
    # clients without threads: that is not a reply to someone.
    if thread_id and relation.get("is_falling_back"):
        reply_to = ""
    return thread_id, reply_to


def mentions_bot(content: dict[str, Any], bot: BotIdentity) -> bool:
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict):
        user_ids = mentions.get("user_ids")
        if isinstance(user_ids, list) and bot.user_id in user_ids:
            return True
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and f"matrix.to/#/{bot.user_id}" in formatted:
        return True
    body = content.get("body")
    if not isinstance(body, str):
        return False
    # The body counts only without m.mentions: a client that sends m.mentions says exactly
    # whom it mentions (the spec's intentional mentions).
    if isinstance(mentions, dict):
        return False
    return any(_name_pattern(name).search(body) for name in bot.names)


def strip_address(text: str, bot: BotIdentity) -> str:
    """Drop a leading "hermes: " / "@hermes:example.org " ("Hermes, hi" -> "hi")."""
    for name in bot.names:
        pattern = rf"^\s*@?{re.escape(name.lstrip('@'))}(?![\w.-])[\s,:]*"
        stripped = re.sub(pattern, "", text, count=1, flags=re.IGNORECASE)
        if stripped != text:
            return stripped
    return text


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def _strip_reply_fallback(body: str) -> str:
    """Clients put the quoted original in front of a reply ("> <@a:b> hi\\n\\nmy answer")."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i] == "":
        return "\n".join(lines[i + 1 :])
    return body


def _timestamp(event: dict[str, Any]) -> float:
    ts = event.get("origin_server_ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and ts > 0:
        return ts / 1000.0
    return time.time()


def invite_is_direct(events: list[dict[str, Any]], bot_id: str) -> tuple[str, bool]:
    """(inviter, is_direct) from a room's invite_state: our m.room.member event says who
    invited us and whether they marked the room as a direct chat."""
    for event in events:
        if (
            isinstance(event, dict)
            and event.get("type") == "m.room.member"
            and event.get("state_key") == bot_id
        ):
            content = event.get("content") if isinstance(event.get("content"), dict) else {}
            sender = event.get("sender") if isinstance(event.get("sender"), str) else ""
            return sender, content.get("is_direct") is True
    return "", False
