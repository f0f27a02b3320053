"""signal-cli envelopes -> InboundMessage, as pure functions: DMs and groups, the mention rule
in groups (a mention of the bot's number, or a quote of one of its messages), and attachment
references (fetching them is the adapter's job).

Message ids are "<author>:<timestamp>": Signal names a message by its author and timestamp,
which is what a reaction or a quote needs."""

from __future__ import annotations

from dataclasses import dataclass

from hermes_gateway.core.types import ChatType, InboundMessage, MessageKind, Platform, SessionSource
from hermes_gateway.platforms.downloads import RemoteFile, kind_of

from . import GROUP_PREFIX

MENTION_MARK = "\ufffc"  # Signal puts this in the text where a mention is


class MalformedEvent(ValueError):
    """An event without the fields every real one has."""


@dataclass(frozen=True)
class Converted:
    message: InboundMessage
    author: str  # the sender's number (or uuid): getAttachment needs it for a DM
    group_id: str = ""
    attachments: tuple[RemoteFile, ...] = ()


def envelope_of(payload: object) -> dict:
    """The envelope of a "receive" event: signal-cli's HTTP stream sends {account, envelope};
    a JSON-RPC notification wraps the same in params (or params.result)."""
    if isinstance(payload, dict) and isinstance(payload.get("params"), dict):
        params = payload["params"]
        payload = params.get("result", params) if "envelope" not in params else params
    if not isinstance(payload, dict) or not isinstance(payload.get("envelope"), dict):
        raise MalformedEvent("an event without an envelope")
    return payload["envelope"]


def message_ref(author: str, timestamp: int) -> str:
    return f"{author}:{timestamp}"


def parse_ref(message_id: str) -> tuple[str, int] | None:
    """(author, timestamp) of a message id made by message_ref, else None."""
    author, _, stamp = message_id.rpartition(":")
    return (author, int(stamp)) if author and stamp.isdigit() else None


def convert_envelope(envelope: dict, account: str, require_mention: bool) -> Converted | None:
    """The InboundMessage for a user's message; None for everything else (typing, receipts,
    reactions, sync copies, our own messages). Raises MalformedEvent."""
    data = envelope.get("dataMessage")
    if data is None:
        return None
    if not isinstance(data, dict):
        raise MalformedEvent("dataMessage is not an object")
    author = envelope.get("sourceNumber") or envelope.get("sourceUuid") or envelope.get("source")
    timestamp = data.get("timestamp", envelope.get("timestamp"))
    if not isinstance(author, str) or not author:
        raise MalformedEvent("a message without its sender")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise MalformedEvent("a message without a numeric timestamp")
    text = data.get("message") or ""
    if not isinstance(text, str):
        raise MalformedEvent("message text is not text")
    if author == account or data.get("reaction") or data.get("remoteDelete"):
        return None
    attachments = _attachments(data.get("attachments"))
    if not text and not attachments:
        return None  # a group update, an expiry change, a sticker...
    group = data.get("groupInfo") or {}
    group_id = str(group.get("groupId") or "") if isinstance(group, dict) else ""
    addressed = True
    if group_id:
        mentions = [m for m in data.get("mentions") or [] if isinstance(m, dict)]
        ours = [m for m in mentions if m.get("number") == account]
        quote = data.get("quote") if isinstance(data.get("quote"), dict) else {}
        quoted_us = account in (quote.get("authorNumber"), quote.get("author"))
        addressed = not require_mention or bool(ours) or quoted_us
        text = without_mentions(text, ours)
    source = SessionSource(
        platform=Platform.SIGNAL,
        chat_id=f"{GROUP_PREFIX}{group_id}" if group_id else author,
        chat_type=ChatType.GROUP if group_id else ChatType.DM,
        user_id=author,
        user_name=str(envelope.get("sourceName") or ""),
        chat_name=str(group.get("groupName") or "") if group_id else "",
    )
    quote = data.get("quote") if isinstance(data.get("quote"), dict) else None
    reply_to = ""
    if quote and isinstance(quote.get("id"), int):
        reply_to = message_ref(str(quote.get("authorNumber") or quote.get("author")), quote["id"])
    message = InboundMessage(
        source=source,
        message_id=message_ref(author, timestamp),
        text=text.strip(),
        kind=_kind(attachments[0].mime_type) if attachments else MessageKind.TEXT,
        reply_to=reply_to,
        timestamp=timestamp / 1000.0,
        addressed=addressed,
    )
    return Converted(message, author, group_id, attachments)


def without_mentions(text: str, mentions: list[dict]) -> str:
    """`text` without the given mentions; their start and length count UTF-16 code units."""
    units = text.encode("utf-16-le")
    for mention in sorted(mentions, key=lambda m: m.get("start", 0), reverse=True):
        start, length = mention.get("start"), mention.get("length")
        if isinstance(start, int) and isinstance(length, int) and start >= 0 and length > 0:
            units = units[: start * 2] + units[(start + length) * 2 :]
    return units.decode("utf-16-le", "replace")


def _attachments(found: object) -> tuple[RemoteFile, ...]:
    if not isinstance(found, list):
        return ()
    return tuple(
        RemoteFile(
            str(a["id"]),
            str(a.get("filename") or a["id"]),
            str(a.get("contentType") or ""),
            int(a.get("size") or 0),
        )
        for a in found
        if isinstance(a, dict) and a.get("id")
    )


def _kind(content_type: str) -> MessageKind:
    """Signal's voice notes are AAC audio; any other type as every platform reads it."""
    if content_type.startswith("audio/") and "aac" in content_type:
        return MessageKind.VOICE
    return kind_of(content_type)
