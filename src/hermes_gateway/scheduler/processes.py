"""Shell commands the agent runs: foreground (awaited) and background (watched).

Every command runs under a shell in its own process group (start_new_session), so stopping it
stops everything it spawned: SIGTERM to the group, SIGKILL to what is left after a grace second.
Background output goes to a bounded ring buffer; the chat that started a process hears about it
per the notifications mode (all | result | error | off)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import shutil
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_gateway.agent.tools.base import first_line
from hermes_gateway.core.events import ProcessChanged, ProcessOutput

if TYPE_CHECKING:
    from hermes_gateway.core.bus import EventBus

log = logging.getLogger("hermes.processes")

Notify = Callable[["ProcessInfo", str], Awaitable[None]]
NOTIFICATION_MODES = ("all", "result", "error", "off")
FOREGROUND_CAP = 50_000  # bytes of foreground output returned (the tail)
_DRAIN = 1.0  # seconds to collect output still in the pipe once a command has exited
_OUTPUT_EVENT_GAP = 1.0  # at most one ProcessOutput event per process per second
# Tools run without a terminal: pagers and credential prompts would only hang or garble output.
_NON_INTERACTIVE = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


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
        return f"ended by signal {_signal_name(-code)}"
    return f"exited with code {code}"


@functools.cache
def _shell() -> str:
    return shutil.which("bash") or "/bin/sh"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


async def spawn(command: str, cwd: Path, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    """Start `command` under the shell in a new process group, output merged into one pipe."""
    starting = asyncio.ensure_future(_spawn(command, cwd, env))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        # The shell may already run (and fork) before the pipes are connected; asyncio's own
        # cleanup would kill only the shell, so stop its whole group here.
        await asyncio.shield(_stop_starting(starting))
        raise


async def _spawn(command: str, cwd: Path, env: dict[str, str] | None) -> asyncio.subprocess.Process:
    child_env = {**os.environ, **_NON_INTERACTIVE, **(env or {})}
    return await asyncio.create_subprocess_exec(
        _shell(),
        "-c",
        command,
        cwd=str(cwd),
        env=child_env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def _stop_starting(starting: asyncio.Future) -> None:
    try:
        proc = await starting
    except Exception:
        return  # it never started
    await terminate_group(proc)
    with contextlib.suppress(TimeoutError):  # read to EOF so the transport closes
        await asyncio.wait_for(proc.stdout.read(), _DRAIN)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_alive(pgid: int) -> bool:
    """True while a process of the group still runs (zombies left to init do not count)."""
    if not _signal_group(pgid, 0):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        if int(pgrp) == pgid and state not in ("Z", "X"):
            return True
    return False


async def wait_exit(proc: asyncio.subprocess.Process, timeout: float | None = None) -> int | None:
    """The shell's exit code once it has exited, or None when `timeout` passes first.

    Process.wait() (Python 3.11) also waits for the output pipe to close, which children that
    outlive the shell keep open; returncode is set as soon as the shell is reaped, so poll it
    (the waiter makes the common case, exit and pipe closing together, immediate)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    waiter = asyncio.ensure_future(proc.wait())
    delay = 0.01
    try:
        while proc.returncode is None:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return None
            await asyncio.wait({waiter}, timeout=delay if left is None else min(delay, left))
            delay = min(delay * 2, 0.2)
    finally:
        waiter.cancel()
    return proc.returncode


async def terminate_group(proc: asyncio.subprocess.Process, grace: float = 1.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace` seconds, reap the shell."""
    pgid = proc.pid  # start_new_session made the shell's pid the group id
    if _signal_group(pgid, signal.SIGTERM):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await wait_exit(proc, grace)
        # Children that ignore SIGTERM outlive their shell; give them the rest of the grace.
        while group_alive(pgid) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
    await wait_exit(proc)


class _Lines:
    """Splits a byte stream into lines, each capped at `max_line` bytes."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._partial = bytearray()
        self._overflow = 0

    def feed(self, chunk: bytes) -> list[str]:
        out: list[str] = []
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            self._add(piece)
            out.append(self._take())
        self._add(rest)
        return out

    def flush(self) -> list[str]:
        return [self._take()] if self._partial or self._overflow else []

    def _add(self, piece: bytes) -> None:
        room = self.max_line - len(self._partial)
        self._partial += piece[:room]
        self._overflow += max(0, len(piece) - room)

    def _take(self) -> str:
        line = self._partial.decode(errors="replace").rstrip("\r")
        if self._overflow:
            line += f" … [{self._overflow} more bytes]"
        self._partial, self._overflow = bytearray(), 0
        return line


class _Tail:
    """The last `cap` bytes of a stream, and how many came before them."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.omitted = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.cap:  # trim in batches, not on every chunk
            self._trim()

    def _trim(self) -> None:
        extra = len(self.data) - self.cap
        if extra > 0:
            self.omitted += extra
            del self.data[:extra]

    def text(self) -> str:
        self._trim()
        body = self.data.decode(errors="replace")
        if self.omitted:
            note = f"[… {self.omitted} bytes of earlier output omitted; showing the last "
            return f"{note}{self.cap // 1000} KB]\n{body}"
        return body


async def _pump(stream: asyncio.StreamReader, sink: Callable[[bytes], None]) -> None:
    while chunk := await stream.read(65536):
        sink(chunk)


async def _stop_reader(reader: asyncio.Task, wait: float) -> None:
    # A process that escaped the group (setsid) may hold the pipe open forever.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader), wait)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader


async def run_foreground(
    command: str, *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> tuple[int | None, str, bool]:
    """Run to completion: (exit code or None on timeout, output tail, timed_out).

    The whole group is stopped on timeout, on cancellation (an interrupt) and when the command
    exits leaving children behind, so nothing outlives the call."""
    proc = await spawn(command, cwd, env)
    tail = _Tail(FOREGROUND_CAP)
    reader = asyncio.create_task(_pump(proc.stdout, tail.add))
    try:
        timed_out = await wait_exit(proc, timeout) is None
        if not timed_out:
            await asyncio.wait({reader}, timeout=_DRAIN)  # output still in the pipe
        leftovers = not timed_out and group_alive(proc.pid)
        if timed_out or leftovers:
            await terminate_group(proc)
        await _stop_reader(reader, _DRAIN)
    except BaseException:  # CancelledError above all: the interrupt must not orphan the group
        await asyncio.shield(_abandon(proc, reader))
        raise
    output = tail.text()
    if leftovers:
        output += (
            "\n[processes the command left running were stopped; "
            "use background=true for long-running commands]"
        )
    return (None if timed_out else proc.returncode), output, timed_out


async def _abandon(proc: asyncio.subprocess.Process, reader: asyncio.Task) -> None:
    await terminate_group(proc)
    await _stop_reader(reader, 0)


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
            await asyncio.wait_for(entry.done.wait(), _DRAIN)
        if not entry.done.is_set() and entry.reader is not None:
            entry.reader.cancel()  # something outside the group still holds the pipe
        await entry.done.wait()  # not the watcher: its final notification may take a while

    async def _watch(self, entry: _Entry) -> None:
        splitter = _Lines(self._max_line)
        entry.reader = asyncio.create_task(
            _pump(entry.proc.stdout, lambda chunk: self._add_lines(entry, splitter.feed(chunk)))
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
