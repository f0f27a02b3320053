"""👀 on a user's message while the agent works on it, then ✅ when the turn went well or ❌
when it failed. Builds on the shared ProcessingReaction (engine events through context.listen);
every reaction call runs as its own task, never in the listener."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from hermes_gateway.core.events import TurnFinished
from hermes_gateway.platforms.processing_reaction import ProcessingReaction

MAX_IN_FLIGHT = 512
WORKING = "👀"
DONE = "✅"
FAILED = "❌"
# (chat_id, message_id, emoji) -> the REST call; the adapter knows where the message lives.
Call = Callable[[str, str, str], Awaitable[None]]


class StatusReactions(ProcessingReaction):
    def __init__(self, add: Call, remove: Call) -> None:
        super().__init__("discord", self._working, self._finished)
        self._add_emoji, self._remove_emoji = add, remove
        self._status = ""
        # message id -> the task adding its 👀: the ✅ waits for it, or the 👀 could land last.
        self._adding: dict[str, asyncio.Future] = {}

    def on_event(self, event: Any) -> None:
        if isinstance(event, TurnFinished):
            if event.status == "interrupted":
                return  # its messages are answered by the follow-up turn: still working
            self._status = event.status
        super().on_event(event)

    def _working(self, chat_id: str, message_id: str) -> Awaitable[None]:
        if len(self._adding) >= MAX_IN_FLIGHT:
            self._adding = {k: t for k, t in self._adding.items() if not t.done()}
        task = asyncio.ensure_future(self._add_emoji(chat_id, message_id, WORKING))
        self._adding[message_id] = task
        return task

    def _finished(self, chat_id: str, message_id: str) -> Awaitable[None]:
        # A plain function, called inside on_event: the status is read now, not when it runs.
        return self._mark(chat_id, message_id, self._status)

    async def _mark(self, chat_id: str, message_id: str, status: str) -> None:
        adding = self._adding.pop(message_id, None)
        if adding is not None:
            await asyncio.wait([adding])
        await self._remove_emoji(chat_id, message_id, WORKING)
        if status == "ok":
            await self._add_emoji(chat_id, message_id, DONE)
        elif status == "error":
            await self._add_emoji(chat_id, message_id, FAILED)
