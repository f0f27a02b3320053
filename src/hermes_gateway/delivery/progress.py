"""Tool progress in the chat, per `display.tool_progress`:

- off: nothing;  new: a line when the agent switches to another tool;
- all: a line per call;  verbose: a line per call with its arguments, and failures.

Identical consecutive lines collapse into one with a count. Where the platform can edit, all
lines live in ONE message edited in place (at most one edit in flight; later lines coalesce into
the next edit); elsewhere each line is its own message. Progress is status, not a reply: it is
sent directly, never through the outbox, and a failed send is only logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from hermes_gateway.agent.tools.registry import ProgressUpdate
from hermes_gateway.core.types import Capabilities, SendResult

log = logging.getLogger("hermes.progress")

MAX_LINES = 30  # an edited progress message keeps only the latest lines

Send = Callable[[str], Awaitable[SendResult]]
Edit = Callable[[str, str], Awaitable[SendResult]]


def progress_line(update: ProgressUpdate, verbose: bool = False) -> str:
    if verbose and update.status == "error":
        return f"❌ {update.tool}: {update.detail}"
    if verbose:
        return f"{update.emoji} {update.tool} {update.detail}".rstrip()
    if update.preview:
        return f"{update.emoji} `{update.preview}`…"
    return f"{update.emoji} {update.tool}…"


class ChatProgress:
    def __init__(self, mode: str, capabilities: Capabilities, send: Send, edit: Edit) -> None:
        self.mode = mode
        self.editable = capabilities.can_edit
        self.limit = capabilities.max_length
        self._send, self._edit = send, edit
        self._lines: list[list] = []  # [text, count]
        self._unsent: list[str] = []  # lines still to send where messages cannot be edited
        self._last_tool = ""
        self._message_id = ""
        self._dirty = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._closing = False

    def __call__(self, update: ProgressUpdate) -> None:
        """The registry's progress callback (synchronous; the work happens in a worker task)."""
        line = self._line_for(update)
        if line is None:
            return
        if self._lines and self._lines[-1][0] == line:
            self._lines[-1][1] += 1
            if not self.editable:
                return  # nothing new to say on a platform that cannot update the line
        else:
            self._lines.append([line, 1])
            del self._lines[:-MAX_LINES]
            if not self.editable:
                self._unsent.append(line)
        self._dirty.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._run())

    def _line_for(self, update: ProgressUpdate) -> str | None:
        mode = self.mode
        if mode == "off":
            return None
        if mode == "verbose":
            if update.status == "ok":
                return None
            return progress_line(update, verbose=True)
        if update.status != "started":
            return None
        if mode == "new" and update.tool == self._last_tool:
            return None
        self._last_tool = update.tool
        return progress_line(update)

    def render(self) -> str:
        text = "\n".join(line if n == 1 else f"{line} (×{n})" for line, n in self._lines)
        return text[-self.limit :]

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._flush()
            except Exception as exc:  # progress must never break the turn
                log.warning("progress update failed: %s", exc)
            if self._closing and not self._dirty.is_set():
                return

    async def _flush(self) -> None:
        if not self.editable:
            while self._unsent:
                await self._send(self._unsent.pop(0))
            return
        text = self.render()
        if not self._message_id:
            result = await self._send(text)
            self._message_id = result.message_id if result.ok else ""
        else:
            await self._edit(self._message_id, text)

    async def close(self, timeout: float = 2.0) -> None:
        """Let the last update go out (bounded), then stop."""
        if self._worker is None:
            return
        self._closing = True
        self._dirty.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._worker), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self._worker.cancel()
