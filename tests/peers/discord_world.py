"""The Discord peer's world: one server ("guild") with a text channel and a role, a few users,
their DM channels, threads, and every message — as the JSON payloads Discord's API and gateway
send (https://discord.com/developers/docs/resources/message#message-object and friends)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from tests.peers.discord_cdn import Cdn

DISCORD_EPOCH_MS = 1420070400000
BOT_ID = "900000000000000001"
APP_ID = BOT_ID  # a bot's application id is its user id
GUILD_ID = "5000"
GROUP_ID = "5001"  # the server's #general
HELPER_ROLE = "5002"
USERS = {"111": "alice", "222": "bob", "333": "stranger", "444": "carol"}
ROLES = {"444": [HELPER_ROLE]}  # carol holds the helper role


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def dm_channel_id(user_id: str) -> str:
    return f"6{user_id}"


@dataclass
class Snowflakes:
    last: int = 0

    def next(self) -> str:
        stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self.last = max(stamp, self.last + 1)
        return str(self.last)


def user(user_id: str) -> dict[str, Any]:
    if user_id == BOT_ID:
        name, bot = "hermes", True
    else:
        name, bot = USERS.get(user_id, f"user{user_id}"), False
    return {
        "id": user_id,
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def member(user_id: str, with_user: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": list(ROLES.get(user_id, [])),
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
        "avatar": None,
        "pending": False,
    }
    if with_user:
        data["user"] = user(user_id)
    return data


def role(role_id: str, name: str, position: int) -> dict[str, Any]:
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "hoist": False,
        "position": position,
        "permissions": "2248473465835073",
        "managed": False,
        "mentionable": True,
        "flags": 0,
    }


def text_channel(channel_id: str, name: str) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": GUILD_ID,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def dm_channel(user_id: str) -> dict[str, Any]:
    return {
        "id": dm_channel_id(user_id),
        "type": 1,
        "recipients": [user(user_id)],
        "last_message_id": None,
    }


@dataclass
class Thread:
    id: str
    parent_id: str
    owner_id: str
    name: str

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": 11,
            "guild_id": GUILD_ID,
            "parent_id": self.parent_id,
            "owner_id": self.owner_id,
            "name": self.name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now_iso(),
                "locked": False,
            },
        }


@dataclass
class World:
    """Everything the peer knows; reset between tests (the token is kept)."""

    token: str
    ids: Snowflakes = field(default_factory=Snowflakes)
    threads: dict[str, Thread] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> message payload
    edits: dict[str, int] = field(default_factory=dict)
    reactions: dict[str, list[str]] = field(default_factory=dict)  # message id -> bot's emoji
    commands: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)  # REST calls, oldest first
    cdn: Cdn = field(default_factory=Cdn)  # attachments, uploaded by users or the bot

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        entry = {"seq": len(self.log) + 1, "kind": kind, **fields}
        self.log.append(entry)
        return entry

    # -- where things are ----------------------------------------------------------------
    def guild_of(self, channel_id: str) -> str | None:
        if channel_id == GROUP_ID or channel_id in self.threads:
            return GUILD_ID
        return None

    def knows_channel(self, channel_id: str) -> bool:
        if self.guild_of(channel_id) is not None:
            return True
        return channel_id.startswith("6") and channel_id[1:] in USERS

    def channel(self, channel_id: str) -> dict[str, Any]:
        if channel_id in self.threads:
            return self.threads[channel_id].payload()
        if channel_id == GROUP_ID:
            return text_channel(GROUP_ID, "general")
        return dm_channel(channel_id[1:])

    def parent_of(self, channel_id: str) -> str:
        thread = self.threads.get(channel_id)
        return thread.parent_id if thread else channel_id

    def guild(self) -> dict[str, Any]:
        members = [member(uid) for uid in [*USERS, BOT_ID]]
        return {
            "id": GUILD_ID,
            "name": "Hermes test server",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": "111",
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [role(GUILD_ID, "@everyone", 0), role(HELPER_ROLE, "helpers", 1)],
            "emojis": [],
            "stickers": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "members": members,
            "channels": [text_channel(GROUP_ID, "general")],
            "threads": [t.payload() for t in self.threads.values()],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "system_channel_id": None,
            "application_id": None,
        }

    # -- messages ------------------------------------------------------------------------
    def message(
        self,
        channel_id: str,
        author_id: str,
        content: str,
        *,
        mentions: tuple[str, ...] = (),
        reply_to: str = "",
        components: list | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        guild_id = self.guild_of(channel_id)
        data: dict[str, Any] = {
            "id": self.ids.next(),
            "channel_id": channel_id,
            "author": user(author_id),
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self._mentioned(uid, guild_id) for uid in mentions],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": [],
            "pinned": False,
            "type": 19 if reply_to else 0,
            "flags": 0,
            "components": components or [],
        }
        if guild_id is not None:
            data["guild_id"] = guild_id
            data["member"] = member(author_id, with_user=False)
        if reply_to and reply_to in self.messages:
            data["message_reference"] = {
                "type": 0,
                "message_id": reply_to,
                "channel_id": channel_id,
                **({"guild_id": guild_id} if guild_id else {}),
            }
            data["referenced_message"] = self.messages[reply_to]
        self.messages[data["id"]] = data
        return data

    def _mentioned(self, user_id: str, guild_id: str | None) -> dict[str, Any]:
        data = user(user_id)
        if guild_id is not None:
            data["member"] = member(user_id, with_user=False)
        return data

    def new_thread(self, parent_id: str, owner_id: str, name: str, thread_id: str = "") -> Thread:
        thread = Thread(thread_id or self.ids.next(), parent_id, owner_id, name)
        self.threads[thread.id] = thread
        return thread

    def bot_messages(self, channel_id: str) -> list[dict[str, Any]]:
        """The bot's messages in a channel and in the threads under it, oldest first."""
        found = []
        for data in self.messages.values():
            if data["author"]["id"] != BOT_ID:
                continue
            where = data["channel_id"]
            if where == channel_id or self.parent_of(where) == channel_id:
                found.append(
                    {
                        "id": data["id"],
                        "channel_id": where,
                        "thread": where if where in self.threads else "",
                        "content": data["content"],
                        "edits": self.edits.get(data["id"], 0),
                        "components": data.get("components", []),
                        "reactions": self.reactions.get(data["id"], []),
                        "files": [a["filename"] for a in data["attachments"]],
                    }
                )
        return sorted(found, key=lambda m: int(m["id"]))
