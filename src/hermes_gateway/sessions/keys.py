"""The one function that turns a message's source into its session key."""

from __future__ import annotations

from hermes_gateway.core.types import ChatType, SessionSource


def session_key(source: SessionSource, group_sessions_per_user: bool = True) -> str:
    """One DM session per (platform, chat); in groups and channels one per (chat, thread, user),
    or per (chat, thread) when `group_sessions_per_user` is off."""
    platform = source.platform.value
    if source.chat_type is ChatType.DM:
        return f"{platform}:dm:{source.chat_id}"
    parts = [platform, "group", source.chat_id, source.thread_id or "-"]
    if group_sessions_per_user:
        parts.append(source.user_id or "-")
    return ":".join(parts)
