"""A reaction on a user's message while the agent works on it (👀), taken away when the turn
ends. Follows engine events through AdapterContext.listen; the adapter supplies the two calls.

Commands (/status…) are received but start no turn: their reaction goes with the session's
next finished turn. Memory stays bounded: at most MAX_SESSIONS sessions are followed."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from hermes_gateway.core.events import MessageReceived, TurnFinished

log = logging.getLogger("hermes.platforms")

MAX_SESSIONS = 256
React = Callable[[str, str], Awaitable[None]]  # (chat_id, message_id)


class ProcessingReaction:
    def __init__(self, platform: str, add: React, remove: React) -> None:
        self.platform = platform
        self._add, self._remove = add, remove
        self._pending: OrderedDict[str, list[tuple[str, str]]] = OrderedDict()
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, listen: Callable[[Callable[[Any], None]], Callable[[], None]] | None) -> None:
        if listen is not None and self._unsubscribe is None:
            self._unsubscribe = listen(self.on_event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._tasks:
            task.cancel()
        self._pending.clear()

    def on_event(self, event: Any) -> None:
        if isinstance(event, MessageReceived) and event.platform == self.platform:
            messages = self._pending.setdefault(event.session_key, [])
            self._pending.move_to_end(event.session_key)
            messages.append((event.chat_id, event.message_id))
            while len(self._pending) > MAX_SESSIONS:
                self._pending.popitem(last=False)
            self._spawn(self._add(event.chat_id, event.message_id))
        elif isinstance(event, TurnFinished):
            for chat_id, message_id in self._pending.pop(event.session_key, []):
                self._spawn(self._remove(chat_id, message_id))

    def _spawn(self, call: Awaitable[None]) -> None:
        task = asyncio.ensure_future(call)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("%s: a processing reaction failed: %s", self.platform, task.exception())
