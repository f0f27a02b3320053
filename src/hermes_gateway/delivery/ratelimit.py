"""Sending limits per chat and per platform: token buckets with a small burst.

Waiters queue in FIFO order and sleep on ONE timer per bucket, set for the moment the head of the
queue may go; nothing polls. A 429 with retry_after blocks only its chat (`block`), a flood wait
blocks the whole platform (`block_all`)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

MAX_IDLE_CHATS = 1024  # buckets of idle chats are dropped beyond this: memory stays bounded
_EPSILON = 1e-9  # float slack so a timer that fires "exactly on time" counts as on time


class _Bucket:
    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate = rate  # tokens per second; 0 = unlimited
        self.capacity = max(1.0, capacity)
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock()
        self.blocked_until = 0.0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    async def take(self) -> None:
        self._refill()
        if not self.waiters and self._wait() <= 0:
            self._consume()
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        if len(self.waiters) == 1:
            self._schedule()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted, then cancelled: give back
                self.tokens = min(self.capacity, self.tokens + 1) if self.rate else self.tokens
            self._release()
            raise

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, self.clock() + max(0.0, seconds))
        if self.waiters:
            self._schedule()

    def idle(self) -> bool:
        self._refill()
        return not self.waiters and self._wait() <= 0 and self.tokens >= self.capacity

    def _refill(self) -> None:
        now = self.clock()
        if self.rate:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def _consume(self) -> None:
        if self.rate:
            self.tokens -= 1

    def _wait(self) -> float:
        """Seconds until one more request may go."""
        wait = self.blocked_until - self.clock()
        if self.rate and self.tokens < 1 - _EPSILON:
            wait = max(wait, (1 - self.tokens) / self.rate)
        return wait if wait > _EPSILON else 0.0

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._wait(), self._release)

    def _release(self) -> None:
        """Wake waiters in order while tokens allow; then sleep until the next one may go."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._refill()
        while self.waiters:
            head = self.waiters[0]
            if head.done():  # cancelled while waiting
                self.waiters.popleft()
                continue
            if self._wait() > 0:
                break
            self.waiters.popleft()
            self._consume()
            head.set_result(None)
        if self.waiters:
            self._schedule()


class RateLimiter:
    """`acquire(chat_id)` returns when the chat and the platform each have a slot."""

    def __init__(
        self,
        per_chat: float,
        global_: float,
        clock: Callable[[], float] = time.monotonic,
        burst: float = 3.0,
    ) -> None:
        self.per_chat = per_chat
        self.clock = clock
        self.burst = burst
        self._global = _Bucket(global_, max(burst, global_), clock)
        self._chats: dict[str, _Bucket] = {}

    async def acquire(self, chat_id: str) -> None:
        # The chat first: a chat that must wait does not hold a platform slot meanwhile.
        await self._chat(chat_id).take()
        await self._global.take()

    def block(self, chat_id: str, seconds: float) -> None:
        """A 429 for this chat: hold its sends, and only its sends, for `seconds`."""
        self._chat(chat_id).block(seconds)

    def block_all(self, seconds: float) -> None:
        """A platform-wide flood wait."""
        self._global.block(seconds)

    def _chat(self, chat_id: str) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) >= MAX_IDLE_CHATS:
                for key in [k for k, b in self._chats.items() if b.idle()]:
                    del self._chats[key]
            bucket = self._chats[chat_id] = _Bucket(self.per_chat, self.burst, self.clock)
        return bucket
