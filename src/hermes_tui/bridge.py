"""One seam between the engine's event stream and Textual: the bridge reads `handle.events()`
in a single worker and posts `EngineBatch` messages, so panes update in handlers, in order,
a few times a second however fast the engine runs.

Each batch costs a frame, and a frame costs the same whether it shows one event or five hundred
(Textual re-renders every table that changed): under load the bridge flushes less often, so the
engine it shares the loop with keeps its throughput."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections.abc import AsyncIterator

from textual.message_pump import MessagePump

from hermes_gateway.core.events import ApprovalRequested, Event, ProcessOutput, ToolProgress
from hermes_tui.messages import Disconnected, EngineBatch, LogLine

FLUSH_INTERVAL = 0.1  # seconds: fast enough to feel live, slow enough to batch bursts
BUSY_INTERVAL = 0.5  # seconds between flushes while the engine is busy
BUSY_BATCH = 40  # events in one batch that mean "busy"
MAX_PROGRESS = 300  # tool-progress lines kept per batch; the oldest of a burst go first
URGENT = (ApprovalRequested,)  # someone is waiting: never hold these back


class Bridge:
    def __init__(
        self,
        target: MessagePump,
        interval: float = FLUSH_INTERVAL,
        busy_interval: float = BUSY_INTERVAL,
    ) -> None:
        self.target = target
        self.interval = interval
        self.busy_interval = busy_interval
        self._busy = False
        self._buffer: list[Event] = []
        self._outputs: dict[str, int] = {}  # process id -> index of its ProcessOutput in buffer
        self._progress = 0
        self._dropped = 0

    async def pump(self, stream: AsyncIterator[Event]) -> None:
        """The worker body: returns (after posting Disconnected) when the stream ends."""
        flusher = asyncio.create_task(self._flush_every())
        reason = "the gateway closed the connection"
        try:
            async for event in stream:
                self.add(event)
        except Exception as exc:  # a broken socket must end in a banner, not a crash
            reason = f"the event stream failed: {exc}"
        finally:
            flusher.cancel()
            self.flush()
            await _close(stream)
        self.target.post_message(Disconnected(reason))

    def add(self, event: Event) -> None:
        if isinstance(event, ProcessOutput):
            index = self._outputs.get(event.process_id)
            if index is not None:  # one line count per process per batch
                earlier = self._buffer[index]
                self._buffer[index] = dataclasses.replace(event, lines=earlier.lines + event.lines)
                return
            self._outputs[event.process_id] = len(self._buffer)
        elif isinstance(event, ToolProgress):
            self._progress += 1
            if self._progress > 2 * MAX_PROGRESS:
                self._trim_progress()
        self._buffer.append(event)
        if isinstance(event, URGENT):
            self.flush()

    def _trim_progress(self) -> None:
        excess = self._progress - MAX_PROGRESS
        kept: list[Event] = []
        for event in self._buffer:
            if excess and isinstance(event, ToolProgress):
                excess -= 1
                continue
            kept.append(event)
        self._dropped += self._progress - MAX_PROGRESS
        self._progress = MAX_PROGRESS
        self._buffer = kept
        self._outputs = {
            e.process_id: i for i, e in enumerate(kept) if isinstance(e, ProcessOutput)
        }

    def flush(self) -> None:
        self._busy = len(self._buffer) + self._dropped >= BUSY_BATCH
        if not self._buffer:
            return
        batch = EngineBatch(tuple(self._buffer), self._dropped)
        self._buffer, self._outputs, self._progress, self._dropped = [], {}, 0, 0
        self.target.post_message(batch)

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.busy_interval if self._busy else self.interval)
            self.flush()


async def _close(stream: AsyncIterator[Event]) -> None:
    """Unsubscribe: a bus Subscription has close(), an async generator aclose()."""
    with contextlib.suppress(Exception):
        closer = getattr(stream, "aclose", None) or getattr(stream, "close", None)
        if closer is not None:
            result = closer()
            if asyncio.iscoroutine(result):
                await result


class LogForwarder(logging.Handler):
    """The embedded engine's `logging` records as LogLine messages (stderr would tear the
    screen). Thread-safe: records from other threads hop onto the app's loop."""

    def __init__(self, target: MessagePump, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self.target = target
        self.loop = loop
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        level = {"WARNING": "WARN", "CRITICAL": "ERROR"}.get(record.levelname, record.levelname)
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__})"
        line = LogLine(record.created, level, record.name, text)
        if threading.get_ident() == self._thread:
            self.target.post_message(line)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                self.loop.call_soon_threadsafe(self.target.post_message, line)


class LogCapture:
    """Routes the `hermes` logger into the app while it runs, and restores it afterwards."""

    def __init__(self, target: MessagePump) -> None:
        self.target = target
        self._saved: tuple[list[logging.Handler], bool, int] | None = None

    def start(self) -> LogCapture:
        root = logging.getLogger("hermes")
        self._saved = (root.handlers[:], root.propagate, root.level)
        root.handlers[:] = [LogForwarder(self.target, asyncio.get_running_loop())]
        root.propagate = False
        root.setLevel(logging.INFO)
        return self

    def stop(self) -> None:
        if self._saved is not None:
            root = logging.getLogger("hermes")
            root.handlers[:], root.propagate, level = self._saved
            root.setLevel(level)
            self._saved = None
