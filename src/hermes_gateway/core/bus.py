"""In-process pub/sub for engine events with bounded per-subscriber queues.

Publishing never blocks the engine. A subscriber that falls behind loses its oldest droppable
events (tool progress); approvals, errors and state changes are never dropped."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

from hermes_gateway.core.events import Event

log = logging.getLogger("hermes.bus")


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._items: deque[Event] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _push(self, event: Event) -> None:
        if len(self._items) >= self._maxsize and not self._drop_one() and event.droppable:
            self.dropped += 1  # nothing older could go: drop this progress line itself
            return
        self._items.append(event)
        self._ready.set()

    def _drop_one(self) -> bool:
        for i, queued in enumerate(self._items):
            if queued.droppable:
                del self._items[i]
                self.dropped += 1
                return True
        return False

    async def get(self) -> Event:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def get_nowait(self) -> Event | None:
        return self._items.popleft() if self._items else None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._bus._unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        """An async-iterable queue of events published from now on."""
        sub = Subscription(self, maxsize)
        self._subscriptions.append(sub)
        return sub

    def listen(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """A synchronous listener called in publish order (log sinks). Returns an unsubscribe."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    def publish(self, event: Event) -> None:
        for callback in self._listeners:
            try:
                callback(event)
            except Exception:  # a broken log sink must never break the engine
                log.exception("event listener failed on %s", event.name)
        for sub in self._subscriptions:
            sub._push(event)
