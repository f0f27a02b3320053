"""Connection health helpers for adapters that hold a long-lived connection (a websocket, an
SSE stream): a jittered exponential backoff, a status reporter without repeats, a sleep that
ends at once when the adapter stops, and the stream's loop run as a background task."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
CONNECT_WAIT = 10.0  # connect() returns after this even if the stream is not up yet


class Backoff:
    """Doubling delays up to `cap`, each spread by ±`jitter` so that many gateways that lost
    one server do not all come back in the same millisecond."""

    def __init__(
        self, start: float = BACKOFF_START, cap: float = BACKOFF_CAP, jitter: float = 0.2
    ) -> None:
        self.start, self.cap, self.jitter = start, cap, jitter
        self.current = start

    def next(self) -> float:
        delay, self.current = self.current, min(self.current * 2, self.cap)
        return max(0.0, delay * random.uniform(1 - self.jitter, 1 + self.jitter))

    def reset(self) -> None:
        self.current = self.start


class StatusLatch:
    """report_status without repeats: the same (state, detail) twice in a row is sent once."""

    def __init__(self, report: Callable[[str, str], None]) -> None:
        self._report = report
        self.last: tuple[str, str] | None = None

    def __call__(self, state: str, detail: str = "") -> None:
        if (state, detail) == self.last:
            return
        self.last = (state, detail)
        self._report(state, detail)

    @property
    def state(self) -> str:
        return self.last[0] if self.last else ""


async def sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stopping` is set meanwhile."""
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        pass


class Stream(Protocol):
    """A reconnecting event stream: run() loops until stop(); `ready` is set once it is first
    up or has given up for good, and then `fatal` says why."""

    ready: asyncio.Event
    fatal: str

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class StreamTask:
    """A Stream's run() as a background task: started by an adapter's connect(), which waits a
    bounded time for the first connection, and stopped by its disconnect()."""

    def __init__(self, stream: Stream, name: str) -> None:
        self.stream = stream
        self._task = asyncio.create_task(stream.run(), name=name)

    async def first_connection(self, timeout: float = CONNECT_WAIT) -> str:
        """Why the stream gave up for good; "" when it is up, or still trying after `timeout`
        (in the background: the state says "connecting")."""
        try:
            await asyncio.wait_for(self.stream.ready.wait(), timeout)
        except TimeoutError:
            return ""
        return self.stream.fatal

    async def stop(self) -> None:
        self.stream.stop()
        self._task.cancel()
        await asyncio.wait([self._task], timeout=2.0)


class StoreRetries:
    """Inbound items (updates, events, mails) that did not reach the inbox yet. The source keeps
    such an item unacknowledged and offers it again; after `limit` tries it is given up (and
    acknowledged), so one item that can never be stored does not block those behind it."""

    def __init__(self, log: logging.Logger, platform: str, what: str, limit: int = 5) -> None:
        self.log, self.platform, self.what, self.limit = log, platform, what, limit
        self._tries: dict[object, int] = {}

    async def store(self, key: object, handle: Callable[[], Awaitable[object]]) -> bool:
        """Run `handle`. True: stored, or given up on (acknowledge it and go on); False: keep
        it unacknowledged and offer it again later."""
        try:
            await handle()
        except Exception as exc:
            tries = self._tries.get(key, 0) + 1
            self._tries[key] = tries
            if tries < self.limit:
                self.log.warning(
                    "%s: %s %s not stored yet (%s); retrying", self.platform, self.what, key, exc
                )
                return False
            self.log.error(
                "%s: gave up on %s %s after %s tries: %s", self.platform, self.what, key, tries, exc
            )
        self._tries.pop(key, None)
        return True
