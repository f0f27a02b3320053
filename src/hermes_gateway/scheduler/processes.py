"""Background shell commands of every session: started, watched, reported, stopped.

Each command runs in its own process group (scheduler.shell), so stopping one stops everything it
spawned. Background output goes to a bounded ring buffer; the chat that started a process hears
about it per the notifications mode (all | result | error | off)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_gateway.agent.tools.base import first_line
from hermes_gateway.core.events import ProcessChanged, ProcessOutput
from hermes_gateway.scheduler.shell import (
    DRAIN,
    Lines,
    pump,
    run_foreground,
    signal_name,
    spawn,
    terminate_group,
    wait_exit,
)

if TYPE_CHECKING:
    from hermes_gateway.core.bus import EventBus

log = logging.getLogger("hermes.processes")

Notify = Callable[["ProcessInfo", str], Awaitable[None]]
NOTIFICATION_MODES = ("all", "result", "error", "off")
_OUTPUT_EVENT_GAP = 1.0  # at most one ProcessOutput event per process per second


class ProcessNotFound(LookupError):
    """No process with that id (never started, or finished and pruned)."""


@dataclass
class ProcessInfo:
    id: str
    session_key: str
    command: str
    pid: int
    started_at: float
    cwd: str = ""
    finished_at: float | None = None
    exit_code: int | None = None  # negative: ended by that signal
    state: str = "running"  # running | exited | killed
    origin: Any = None  # opaque: the chat to notify (a SessionSource)
    lines: int = 0  # output lines so far (the ring keeps only the newest)


def describe(info: ProcessInfo) -> str:
    """One status phrase: "running (pid 12)", "exited with code 0", "killed", ..."""
    if info.state == "running":
        return f"running (pid {info.pid})"
    if info.state == "killed":
        return "killed"
    code = info.exit_code
    if code is not None and code < 0:
        return f"ended by signal {signal_name(-code)}"
    return f"exited with code {code}"


@dataclass
class _Entry:
    info: ProcessInfo
    proc: asyncio.subprocess.Process
    ring: deque[str]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    killing: bool = False
    watcher: asyncio.Task | None = None
    reader: asyncio.Task | None = None
    updates: asyncio.Task | None = None
    unreported: int = 0  # lines not yet announced by a ProcessOutput event
    last_output_event: float = float("-inf")
    output_timer: asyncio.TimerHandle | None = None
    notified_lines: int = 0  # info.lines at the last "all"-mode update

    def tail(self, count: int, max_chars: int | None = None) -> str:
        text = "\n".join(list(self.ring)[-count:]) if count > 0 else ""
        if max_chars is None or len(text) <= max_chars:
            return text
        return "…" + text[-max_chars:]


def final_text(info: ProcessInfo, tail: str) -> str:
    """The message a chat gets when its background process ends."""
    command = first_line(info.command, 80)
    if info.state == "killed":
        head = f"🛑 Process {info.id} was stopped: `{command}`"
    elif info.exit_code == 0:
        head = f"✅ Process {info.id} finished (exit 0): `{command}`"
    else:
        head = f"❌ Process {info.id} {describe(info)}: `{command}`"
    return f"{head}\n{tail}" if tail else head


class ProcessManager:
    """Background processes of every session: start, watch, report, stop."""

    def __init__(
        self,
        *,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.time,
        notify: Notify | None = None,
        notifications: str = "all",
        ring_lines: int = 2000,
        keep_finished: float = 3600,
        output_interval: float = 30.0,
        max_line: int = 2000,
    ) -> None:
        if notifications not in NOTIFICATION_MODES:
            raise ValueError(
                f"background process notifications must be one of {', '.join(NOTIFICATION_MODES)}"
                f" (got {notifications!r})"
            )
        self._bus = bus
        self._clock = clock
        self._notify = notify
        self._mode = notifications
        self._ring_lines = ring_lines
        self._keep_finished = keep_finished
        self._output_interval = output_interval
        self._max_line = max_line
        self._entries: dict[str, _Entry] = {}
        self._closing = False

    async def start(
        self,
        command: str,
        *,
        cwd: Path,
        session_key: str,
        env: dict[str, str] | None = None,
        origin: Any = None,
    ) -> ProcessInfo:
        if self._closing:
            raise RuntimeError("The gateway is shutting down; no new processes can start.")
        self._prune()
        proc = await spawn(command, cwd, env)
        process_id = self._new_id()
        info = ProcessInfo(
            id=process_id,
            session_key=session_key,
            command=command,
            pid=proc.pid,
            started_at=self._clock(),
            cwd=str(cwd),
            origin=origin,
        )
        entry = _Entry(info, proc, deque(maxlen=self._ring_lines))
        self._entries[process_id] = entry
        entry.watcher = asyncio.create_task(self._watch(entry), name=f"process:{process_id}")
        if self._mode == "all" and self._notify is not None:
            entry.updates = asyncio.create_task(self._send_updates(entry))
        self._changed(entry)
        return info

    async def run_foreground(
        self, command: str, *, cwd: Path, timeout: float, env: dict[str, str] | None = None
    ) -> tuple[int | None, str, bool]:
        return await run_foreground(command, cwd=cwd, timeout=timeout, env=env)

    def get(self, process_id: str) -> ProcessInfo | None:
        self._prune()
        entry = self._entries.get(process_id)
        return entry.info if entry else None

    def list(self, session_key: str | None = None) -> list[ProcessInfo]:
        self._prune()
        infos = [e.info for e in self._entries.values()]
        if session_key is not None:
            infos = [i for i in infos if i.session_key == session_key]
        return sorted(infos, key=lambda i: i.started_at)

    def log(self, process_id: str, lines: int = 100) -> str:
        """The newest `lines` lines of output (the ring keeps at most `ring_lines`)."""
        return self._entry(process_id).tail(lines)

    async def wait(self, process_id: str, timeout: float) -> ProcessInfo:
        """The process's info once it ends, or after `timeout` seconds if it is still running."""
        entry = self._entry(process_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.done.wait(), timeout)
        return entry.info

    async def kill(self, process_id: str) -> ProcessInfo:
        entry = self._entry(process_id)
        if not entry.done.is_set():
            await self._stop(entry)
        return entry.info

    def has_live(self, session_key: str) -> bool:
        return any(
            e.info.session_key == session_key and not e.done.is_set()
            for e in self._entries.values()
        )

    async def shutdown(self) -> None:
        """Stop every live process (no notifications: the chats are going away too)."""
        self._closing = True
        live = [e for e in self._entries.values() if not e.done.is_set()]
        await asyncio.gather(*(self._stop(e) for e in live))
        updates = [e.updates for e in self._entries.values() if e.updates is not None]
        for task in updates:
            task.cancel()
        await asyncio.gather(*updates, return_exceptions=True)

    # -- internals --

    def _entry(self, process_id: str) -> _Entry:
        self._prune()
        entry = self._entries.get(process_id)
        if entry is None:
            raise ProcessNotFound(process_id)
        return entry

    def _new_id(self) -> str:
        while (process_id := "proc_" + secrets.token_hex(3)) in self._entries:
            pass
        return process_id

    def _prune(self) -> None:
        cutoff = self._clock() - self._keep_finished
        for process_id, entry in list(self._entries.items()):
            if entry.info.finished_at is not None and entry.info.finished_at <= cutoff:
                del self._entries[process_id]

    async def _stop(self, entry: _Entry) -> None:
        entry.killing = True
        await terminate_group(entry.proc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.done.wait(), DRAIN)
        if not entry.done.is_set() and entry.reader is not None:
            entry.reader.cancel()  # something outside the group still holds the pipe
        await entry.done.wait()  # not the watcher: its final notification may take a while

    async def _watch(self, entry: _Entry) -> None:
        splitter = Lines(self._max_line)
        entry.reader = asyncio.create_task(
            pump(entry.proc.stdout, lambda chunk: self._add_lines(entry, splitter.feed(chunk)))
        )
        # Finished = the shell exited and nothing of its group writes to the pipe any more.
        await asyncio.wait({entry.reader})
        self._add_lines(entry, splitter.flush())
        code = await wait_exit(entry.proc)
        info = entry.info
        info.exit_code, info.finished_at = code, self._clock()
        info.state = "killed" if entry.killing else "exited"
        if entry.output_timer is not None:
            entry.output_timer.cancel()
        self._publish_output(entry)
        entry.done.set()
        self._changed(entry)
        if self._wants_final(info):
            await self._send(entry, final_text(info, entry.tail(20, max_chars=3000)))

    def _wants_final(self, info: ProcessInfo) -> bool:
        if self._notify is None or self._closing:
            return False
        if self._mode == "error":
            return info.state == "exited" and info.exit_code != 0
        return self._mode in ("all", "result")

    async def _send_updates(self, entry: _Entry) -> None:
        """Mode "all": new output at most every output_interval seconds while it runs."""
        while not entry.done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.done.wait(), self._output_interval)
            new = entry.info.lines - entry.notified_lines
            if entry.done.is_set() or new <= 0:
                continue
            entry.notified_lines = entry.info.lines
            command = first_line(entry.info.command, 80)
            tail = entry.tail(min(new, 10), max_chars=1500)
            await self._send(entry, f"⏳ Process {entry.info.id} is running: `{command}`\n{tail}")

    async def _send(self, entry: _Entry, text: str) -> None:
        assert self._notify is not None
        try:
            await self._notify(entry.info, text)
        except Exception:  # a failed delivery must not stop the watcher
            log.exception("notifying the chat about %s failed", entry.info.id)

    def _add_lines(self, entry: _Entry, lines: list[str]) -> None:
        if not lines:
            return
        entry.ring.extend(lines)
        entry.info.lines += len(lines)
        entry.unreported += len(lines)
        if self._bus is not None and entry.output_timer is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, entry.last_output_event + _OUTPUT_EVENT_GAP - loop.time())
            entry.output_timer = loop.call_later(delay, self._publish_output, entry)

    def _publish_output(self, entry: _Entry) -> None:
        entry.output_timer = None
        if self._bus is None or not entry.unreported:
            return
        info = entry.info
        self._bus.publish(
            ProcessOutput(process_id=info.id, session_key=info.session_key, lines=entry.unreported)
        )
        entry.unreported = 0
        entry.last_output_event = asyncio.get_running_loop().time()

    def _changed(self, entry: _Entry) -> None:
        if self._bus is None:
            return
        info = entry.info
        self._bus.publish(
            ProcessChanged(
                process_id=info.id,
                session_key=info.session_key,
                command=first_line(info.command, 200),
                state=info.state,
                pid=info.pid,
                exit_code=info.exit_code,
            )
        )
