"""Finds the session for a message: the open one for its key, or a new one when the reset
policy says the old one expired (the first reply then says so and offers /resume)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime, tzinfo

from hermes_gateway.core.types import SessionSource
from hermes_gateway.sessions.keys import session_key
from hermes_gateway.sessions.reset import reset_reason
from hermes_gateway.storage.base import Store
from hermes_gateway.storage.records import SessionRecord


def new_session_id(now: float) -> str:
    return datetime.fromtimestamp(now).strftime("%Y%m%d_%H%M%S_") + secrets.token_hex(3)


class SessionManager:
    def __init__(
        self,
        store: Store,
        settings,
        clock: Callable[[], float] = time.time,
        tz: tzinfo | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.tz = tz

    def key_for(self, source: SessionSource) -> str:
        return session_key(source, self.settings.group_sessions_per_user)

    def resolve(
        self, source: SessionSource, key: str, protected: Callable[[str], bool] = lambda k: False
    ) -> SessionRecord:
        """The session a new turn runs in, resetting an expired one unless it is protected
        (a pending approval or a live background process)."""
        now = self.clock()
        current = self.store.session_current(key)
        if current is None:
            return self.start_new(source, key, "")
        policy = self.settings.reset_policy_for(source.platform.value, source.chat_type.value)
        reason = reset_reason(policy, current.last_active, now, self.tz)
        if reason is None or protected(key):
            return current
        notice = (
            f"🔄 Started a fresh session: the previous one was reset ({reason}). "
            "Send /resume to continue it."
        )
        return self.start_new(source, key, f"auto: {reason}", notice=notice)

    def start_new(
        self, source: SessionSource, key: str, reason: str, notice: str = "", parent_id: str = ""
    ) -> SessionRecord:
        now = self.clock()
        current = self.store.session_current(key)
        if current is not None:
            self.store.session_end(current.id, reason or "new", now)
        record = SessionRecord(
            id=new_session_id(now),
            key=key,
            platform=source.platform.value,
            chat_id=source.chat_id,
            chat_type=source.chat_type.value,
            thread_id=source.thread_id,
            user_id=source.user_id,
            user_name=source.user_name,
            chat_name=source.chat_name,
            model=current.model if current else "",
            created_at=now,
            last_active=now,
            reset_notice=notice,
            parent_id=parent_id,
        )
        self.store.session_create(record)
        return record

    def resume(self, key: str, name: str = "") -> SessionRecord | None:
        """Reopen the named session of this chat, or the most recent ended one."""
        candidates = [s for s in self.store.sessions_for_key(key) if s.ended_at is not None]
        if name:
            wanted = name.strip().lower()
            candidates = [s for s in candidates if s.title.lower() == wanted or s.id == name]
        if not candidates:
            return None
        chosen = candidates[0]
        self.store.session_reopen(chosen.id, self.clock())
        return self.store.session_get(chosen.id)
