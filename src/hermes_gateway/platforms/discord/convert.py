"""Conversions between discord.py's objects and ours, as pure functions.

In: Message / slash-command Interaction -> InboundMessage (DMs, guild channels, threads, the
mention rule), attachments as RemoteFiles (inbound.py downloads them). Out: buttons as message components, the command menu as application commands.

A Discord thread is a channel of its own: a message in a thread has chat_id = thread_id = the
thread's channel id, so replies, typing and approval prompts all land in the thread."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass

import discord

from hermes_gateway.core.types import (
    ChatType,
    InboundMessage,
    MessageKind,
    Platform,
    SessionSource,
)
from hermes_gateway.platforms.downloads import RemoteFile, kind_of

# Messages users type; joins, pins, "thread created" notices and the like are not for the agent.
_CONVERSATION = (discord.MessageType.default, discord.MessageType.reply)
_THREAD_TYPES = (
    discord.ChannelType.public_thread,
    discord.ChannelType.private_thread,
    discord.ChannelType.news_thread,
)
_COMMAND_NAME = re.compile(r"[^a-z0-9_-]")
ARGS_OPTION = "input"  # the one optional text option every slash command takes


@dataclass(frozen=True)
class Place:
    """Where a message lives, in our terms."""

    chat_id: str
    chat_type: ChatType
    thread_id: str = ""
    chat_name: str = ""
    thread_owner: int = 0  # the user who started the thread (0 outside threads)


def place_of(channel: object, guild_id: int | None) -> Place:
    ident = str(getattr(channel, "id", ""))
    name = getattr(channel, "name", "") or ""
    kind = getattr(channel, "type", None)
    if guild_id is None or kind in (discord.ChannelType.private, discord.ChannelType.group):
        return Place(ident, ChatType.DM)
    if kind in _THREAD_TYPES:
        return Place(ident, ChatType.THREAD, ident, name, getattr(channel, "owner_id", 0) or 0)
    return Place(ident, ChatType.GROUP, "", name)


def is_conversation(message: discord.Message) -> bool:
    return message.type in _CONVERSATION


def convert_message(
    message: discord.Message, bot_id: int, require_mention: bool
) -> tuple[InboundMessage, Place]:
    """The InboundMessage for a user's message. Raises on a malformed one."""
    guild_id = message.guild.id if message.guild is not None else None
    place = place_of(message.channel, guild_id)
    author = message.author
    text = message.content
    if not isinstance(text, str):
        raise ValueError(f"content is {type(text).__name__}, not text")
    addressed = True
    if place.chat_type is not ChatType.DM:
        addressed = (
            not require_mention
            or mentions_bot(message, bot_id)
            or replies_to_bot(message, bot_id)
            or place.thread_owner == bot_id  # a thread the bot started is a conversation with it
        )
        text = strip_mention(text, bot_id)
    source = SessionSource(
        platform=Platform.DISCORD,
        chat_id=place.chat_id,
        chat_type=place.chat_type,
        user_id=str(author.id),
        user_name=author.name or "",
        thread_id=place.thread_id,
        chat_name=place.chat_name,
    )
    reference = message.reference
    inbound = InboundMessage(
        source=source,
        message_id=str(message.id),
        text=text,
        kind=file_kind(message.attachments[0]) if message.attachments else MessageKind.TEXT,
        reply_to=str(reference.message_id) if reference and reference.message_id else "",
        timestamp=message.created_at.timestamp(),
        addressed=addressed,
    )
    return inbound, place


def convert_command(interaction: discord.Interaction) -> InboundMessage:
    """A slash command as the text a user would have typed ("/model gpt-4o")."""
    data = interaction.data or {}
    name = str(data["name"])
    args = next(
        (str(o.get("value", "")) for o in data.get("options", []) if o.get("name") == ARGS_OPTION),
        "",
    )
    place = place_of(interaction.channel, interaction.guild_id)
    user = interaction.user
    source = SessionSource(
        platform=Platform.DISCORD,
        chat_id=place.chat_id or str(interaction.channel_id or ""),
        chat_type=place.chat_type,
        user_id=str(user.id),
        user_name=user.name or "",
        thread_id=place.thread_id,
        chat_name=place.chat_name,
    )
    return InboundMessage(
        source=source,
        message_id=str(interaction.id),
        text=f"/{name} {args}".strip(),
        timestamp=interaction.created_at.timestamp(),
    )


def mentions_bot(message: discord.Message, bot_id: int) -> bool:
    return bot_id in message.raw_mentions


def replies_to_bot(message: discord.Message, bot_id: int) -> bool:
    resolved = message.reference.resolved if message.reference else None
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_id


def strip_mention(text: str, bot_id: int) -> str:
    """Drop the bot's mention ("<@123> hi" -> "hi"), wherever it stands."""
    stripped = re.sub(rf"<@!?{bot_id}>[\s,:]*", "", text)
    return stripped.strip() if stripped != text else text


def remote_files(attachments: list[discord.Attachment]) -> tuple[RemoteFile, ...]:
    """A message's attachments, to download (Discord says each one's type and size)."""
    return tuple(
        RemoteFile(str(a.id), a.filename or str(a.id), _mime(a), int(a.size or 0), file_kind(a))
        for a in attachments
    )


def file_kind(attachment: discord.Attachment) -> MessageKind:
    if attachment.is_voice_message():  # recorded in the app: it carries a waveform
        return MessageKind.VOICE
    return kind_of(_mime(attachment))


def _mime(attachment: discord.Attachment) -> str:
    declared = (attachment.content_type or "").split(";", 1)[0].strip()
    return declared or mimetypes.guess_type(attachment.filename or "")[0] or ""


def thread_name(text: str) -> str:
    """A thread's title from the message that starts it (Discord allows 1-100 characters)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first or "Conversation")[:100]


# -- ours -> Discord -----------------------------------------------------------------------------


def components(buttons: tuple[tuple[str, str], ...]) -> list[dict]:
    """Buttons as action rows (at most 5 buttons a row, 5 rows; labels ≤ 80, ids ≤ 100)."""
    keys = [
        {
            "type": 2,
            "style": _style(index, data),
            "label": label[:80],
            "custom_id": data[:100],
        }
        for index, (label, data) in enumerate(buttons[:25])
    ]
    return [{"type": 1, "components": keys[i : i + 5]} for i in range(0, len(keys), 5)]


def _style(index: int, data: str) -> int:
    if data.endswith(":deny"):
        return 4  # danger (red)
    return 1 if index == 0 else 2  # primary for the first choice, secondary for the others


def command_payloads(entries: list[tuple[str, str]]) -> list[dict]:
    """The command menu as global chat-input commands: names 1-32 of [a-z0-9_-], descriptions
    1-100 characters, at most 100 commands; each takes one optional free-text option."""
    commands: list[dict] = []
    seen: set[str] = set()
    for name, description in entries:
        clean = _COMMAND_NAME.sub("", name.strip().lstrip("/").lower())[:32]
        if not clean or clean in seen:
            continue
        seen.add(clean)
        commands.append(
            {
                "name": clean,
                "type": 1,
                "description": (description or "").strip()[:100] or clean,
                "options": [
                    {
                        "type": 3,
                        "name": ARGS_OPTION,
                        "description": "what to pass to the command",
                        "required": False,
                    }
                ],
            }
        )
    return commands[:100]
