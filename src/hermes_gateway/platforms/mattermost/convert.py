"""Mattermost posts -> InboundMessage, as pure functions: channel types, the mention rule in
channels, threads (root_id), and file references (downloads are the adapter's job)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from hermes_gateway.core.types import ChatType, InboundMessage, MessageKind, Platform, SessionSource
from hermes_gateway.platforms.downloads import RemoteFile, kind_of

# D = direct message, G = group message, O = public channel, P = private channel.
_CHAT_TYPES = {"D": ChatType.DM, "G": ChatType.GROUP, "O": ChatType.GROUP, "P": ChatType.GROUP}


class MalformedEvent(ValueError):
    """A websocket event or post without the fields every real one has."""


@dataclass(frozen=True)
class BotIdentity:
    id: str
    username: str


@dataclass(frozen=True)
class PostContext:
    """What a "posted" event says about its post beyond the post itself."""

    channel_type: str
    sender_name: str = ""
    channel_name: str = ""
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Converted:
    message: InboundMessage
    files: tuple[RemoteFile, ...] = ()


def parse_posted(data: object) -> tuple[dict, PostContext]:
    """The post and its context from a "posted" event's data, where `post` and `mentions` are
    JSON strings (as Mattermost sends them). Raises MalformedEvent."""
    if not isinstance(data, dict) or not isinstance(data.get("post"), str):
        raise MalformedEvent("posted event without a post")
    try:
        post = json.loads(data["post"])
        mentions = json.loads(data.get("mentions") or "[]")
    except ValueError as exc:
        raise MalformedEvent(f"undecodable post: {exc}") from None
    if not isinstance(mentions, list):
        mentions = []
    context = PostContext(
        channel_type=str(data.get("channel_type") or ""),
        sender_name=str(data.get("sender_name") or "").lstrip("@"),
        channel_name=str(data.get("channel_display_name") or ""),
        mentions=tuple(str(m) for m in mentions),
    )
    return _checked(post), context


def _checked(post: object) -> dict:
    if not isinstance(post, dict):
        raise MalformedEvent("the post is not an object")
    for key in ("id", "channel_id", "user_id"):
        if not isinstance(post.get(key), str) or not post[key]:
            raise MalformedEvent(f"post without {key}")
    if not isinstance(post.get("message", ""), str):
        raise MalformedEvent("post message is not text")
    if not isinstance(post.get("create_at", 0), int):
        raise MalformedEvent("post create_at is not a number")
    return post


def convert_post(
    post: dict, context: PostContext, bot: BotIdentity, require_mention: bool
) -> Converted | None:
    """The InboundMessage for a user's post; None for the bot's own and for system posts."""
    post = _checked(post)
    if post["user_id"] == bot.id or str(post.get("type") or "").startswith("system_"):
        return None
    chat_type = _CHAT_TYPES.get(context.channel_type, ChatType.GROUP)
    text = post.get("message") or ""
    addressed = True
    if chat_type is not ChatType.DM:
        addressed = not require_mention or mentions_bot(text, context.mentions, bot)
    # Mattermost's clients run a message that starts with "/" as their own slash command, so
    # people write "@bot /approve", in DMs too.
    text = strip_mention(text, bot.username)
    files = file_refs(post)
    source = SessionSource(
        platform=Platform.MATTERMOST,
        chat_id=post["channel_id"],
        chat_type=chat_type,
        user_id=post["user_id"],
        user_name=context.sender_name,
        thread_id=str(post.get("root_id") or ""),
        chat_name=context.channel_name,
    )
    message = InboundMessage(
        source=source,
        message_id=post["id"],
        text=text,
        kind=kind_of(files[0].mime_type) if files else MessageKind.TEXT,
        timestamp=post.get("create_at", 0) / 1000.0,
        addressed=addressed,
    )
    return Converted(message, files)


def mentions_bot(text: str, mentions: tuple[str, ...], bot: BotIdentity) -> bool:
    if bot.id in mentions:
        return True
    name = re.escape(bot.username)
    return bool(bot.username) and re.search(rf"(?<![\w.-])@{name}(?![\w-])", text, re.I) is not None


def strip_mention(text: str, username: str) -> str:
    """Drop a leading "@bot" ("@bot hi" -> "hi"), so that "@bot /status" is a command."""
    if not username:
        return text
    return re.sub(rf"^\s*@{re.escape(username)}\b[\s,:]*", "", text, count=1, flags=re.I)


def file_refs(post: dict) -> tuple[RemoteFile, ...]:
    infos = (post.get("metadata") or {}).get("files") or []
    refs = [
        RemoteFile(
            str(i["id"]),
            str(i.get("name") or i["id"]),
            str(i.get("mime_type") or ""),
            int(i.get("size") or 0),
        )  # fmt: skip
        for i in infos
        if isinstance(i, dict) and i.get("id")
    ]
    known = {r.id for r in refs}
    for file_id in post.get("file_ids") or []:
        if isinstance(file_id, str) and file_id not in known:
            refs.append(RemoteFile(file_id, file_id, "", 0))
    return tuple(refs)
